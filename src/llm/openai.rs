//! OpenAI-compatible `POST {baseUrl}/chat/completions` (baseUrl ends in `/v1`):
//! OpenAI, Ollama, llama.cpp's server, LM Studio, vLLM, OpenRouter.

use serde_json::{Value, json};

use super::{ChatRequest, ChatResponse, LlmError, Provider, ToolCall, Usage};

pub async fn chat(p: &Provider, model: &str, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
    let mut body = json!({
        "model": model,
        "messages": req.messages,
        "max_tokens": req.max_tokens.max(1),
    });
    if !req.stop.is_empty() {
        body["stop"] = json!(req.stop);
    }
    if req.json {
        body["response_format"] = json!({ "type": "json_object" });
    }
    if !req.tools.is_empty() {
        body["tools"] = Value::Array(
            req.tools
                .iter()
                .map(|t| json!({ "type": "function", "function": { "name": t.name, "description": t.description, "parameters": t.parameters } }))
                .collect(),
        );
    }
    let mut headers = Vec::new();
    if let Some(key) = &p.key {
        headers.push(("Authorization", format!("Bearer {}", key.expose())));
    }
    if let Some(k) = &req.idempotency_key {
        headers.push(("Idempotency-Key", k.clone()));
    }
    let v = p
        .post(&format!("{}/chat/completions", p.base_url), &headers, &body)
        .await?;
    let message = v["choices"][0]["message"]
        .as_object()
        .ok_or_else(|| p.malformed("no choices[0].message"))?;
    let text = message
        .get("content")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut tool_calls = Vec::new();
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = &call["function"];
        let name = f["name"]
            .as_str()
            .ok_or_else(|| p.malformed("a tool call without a name"))?;
        // Arguments arrive as a JSON string; junk arguments are a protocol error, not a call.
        let arguments = match &f["arguments"] {
            Value::String(s) => {
                serde_json::from_str(s).map_err(|e| p.malformed(format!("tool arguments: {e}")))?
            }
            other => other.clone(),
        };
        tool_calls.push(ToolCall {
            id: call["id"].as_str().unwrap_or_default().to_string(),
            name: name.to_string(),
            arguments,
        });
    }
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| Usage {
        input: u["prompt_tokens"].as_u64().unwrap_or(0),
        output: u["completion_tokens"].as_u64().unwrap_or(0),
        cached: u["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        estimated: false,
    });
    let truncated = v["choices"][0]["finish_reason"].as_str() == Some("length");
    super::finish_reply(
        p,
        req,
        model,
        &v,
        super::Parsed {
            text,
            tool_calls,
            usage,
            truncated,
        },
    )
}
