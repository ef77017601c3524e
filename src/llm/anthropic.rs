//! Anthropic `POST {baseUrl}/v1/messages`.

use serde_json::{Value, json};

use super::{ChatRequest, ChatResponse, LlmError, Provider, Role, ToolCall, Usage};

pub const VERSION: &str = "2023-06-01";

pub async fn chat(p: &Provider, model: &str, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
    let mut system: Vec<&str> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    if req.json {
        // No JSON flag in this protocol: ask for it, then check what comes back.
        system.push("Reply with one JSON object and nothing else.");
    }
    let messages: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({ "role": m.role, "content": m.content }))
        .collect();
    let mut body =
        json!({ "model": model, "max_tokens": req.max_tokens.max(1), "messages": messages });
    if !req.stop.is_empty() {
        body["stop_sequences"] = json!(req.stop);
    }
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if !req.tools.is_empty() {
        body["tools"] = Value::Array(
            req.tools.iter().map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters })).collect(),
        );
    }
    let mut headers = vec![("anthropic-version", VERSION.to_string())];
    if let Some(key) = &p.key {
        headers.push(("x-api-key", key.expose().to_string()));
    }
    let v = p
        .post(&format!("{}/v1/messages", p.base_url), &headers, &body)
        .await?;
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| p.malformed("no content array"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => text.push_str(b["text"].as_str().unwrap_or_default()),
            Some("tool_use") => tool_calls.push(ToolCall {
                id: b["id"].as_str().unwrap_or_default().to_string(),
                name: b["name"]
                    .as_str()
                    .ok_or_else(|| p.malformed("a tool_use without a name"))?
                    .to_string(),
                arguments: b["input"].clone(),
            }),
            _ => {}
        }
    }
    let text = (!text.is_empty()).then_some(text);
    // Anthropic's input_tokens excludes cache reads; Usage.input counts all input.
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| {
        let cached = u["cache_read_input_tokens"].as_u64().unwrap_or(0);
        Usage {
            input: u["input_tokens"].as_u64().unwrap_or(0) + cached,
            output: u["output_tokens"].as_u64().unwrap_or(0),
            cached,
            estimated: false,
        }
    });
    let truncated = v["stop_reason"].as_str() == Some("max_tokens");
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
