//! A local Bot API server for the Telegram tests, on 127.0.0.1: the real
//! wire format (`POST /bot<token>/<method>`, JSON bodies, `{ok, result}` and
//! `{ok: false, error_code, description, parameters}` answers) for
//! getUpdates (long polling; updates below the asked offset are confirmed and
//! forgotten, as Telegram does), sendMessage, editMessageText,
//! answerCallbackQuery, sendChatAction, getMe, setWebhook and deleteWebhook.
//! It can answer 429 with `retry_after`, and drop a poll's connection in the
//! middle of its answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};

pub const TOKEN: &str = "123456:test-token";
pub const BOT_ID: i64 = 999_000_999;

#[derive(Default)]
struct Inner {
    next_update: i64,
    /// Not yet confirmed by a poll with a higher offset.
    pending: Vec<Value>,
    offsets: Vec<i64>,
    calls: Vec<(String, Value)>,
    next_message: i64,
    /// The next this many sendMessage calls get 429.
    flood: u32,
    /// The next this many getUpdates calls lose their connection mid-answer.
    drops: u32,
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
    news: tokio::sync::Notify,
}

/// The double and what it saw.
#[derive(Clone)]
pub struct BotApi {
    pub url: String,
    shared: Arc<Shared>,
}

pub fn user(id: i64, first: &str, last: Option<&str>, username: Option<&str>) -> Value {
    let mut u = json!({ "id": id, "is_bot": false, "first_name": first });
    if let Some(l) = last {
        u["last_name"] = json!(l);
    }
    if let Some(n) = username {
        u["username"] = json!(n);
    }
    u
}

fn chat_of(id: i64) -> Value {
    if id < 0 {
        json!({ "id": id, "type": "group", "title": "A group" })
    } else {
        json!({ "id": id, "type": "private", "first_name": "Someone" })
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl BotApi {
    pub fn start() -> BotApi {
        let shared = Arc::new(Shared::default());
        shared.inner.lock().unwrap().next_update = 500;
        shared.inner.lock().unwrap().next_message = 1;
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::post(call))
            .with_state(shared.clone());
        BotApi {
            url: super::lantern::serve_in_thread(app),
            shared,
        }
    }

    fn push(&self, kind: &str, body: Value) -> i64 {
        let mut g = self.shared.inner.lock().unwrap();
        let id = g.next_update;
        g.next_update += 1;
        g.pending.push(json!({ "update_id": id, kind: body }));
        drop(g);
        self.shared.news.notify_waiters();
        id
    }

    /// A text message from `from` (a user object) in their private chat; the update id.
    pub fn text(&self, from: &Value, message_id: i64, text: &str) -> i64 {
        self.push("message", self.message(from, message_id, text))
    }

    /// The JSON of a private message, for a webhook post.
    pub fn message(&self, from: &Value, message_id: i64, text: &str) -> Value {
        let chat = json!({ "id": from["id"], "type": "private", "first_name": from["first_name"] });
        json!({ "message_id": message_id, "from": from, "chat": chat, "date": now(), "text": text })
    }

    /// The owner's reply to the bot's message `to` (an Edit question).
    pub fn reply(&self, from: &Value, message_id: i64, to: i64, text: &str) -> i64 {
        let mut m = self.message(from, message_id, text);
        m["reply_to_message"] = self.bot_message(from["id"].as_i64().unwrap(), to, "?");
        self.push("message", m)
    }

    fn bot_message(&self, chat: i64, id: i64, text: &str) -> Value {
        json!({
            "message_id": id,
            "from": { "id": BOT_ID, "is_bot": true, "first_name": "Steward", "username": "steward_test_bot" },
            "chat": chat_of(chat), "date": now(), "text": text,
        })
    }

    /// `from` presses a button with `data` on the bot's message `message` in `chat`.
    pub fn press(&self, from: &Value, chat: i64, message: i64, data: &str) -> i64 {
        let id = format!("cb{}", self.shared.inner.lock().unwrap().next_update);
        self.push(
            "callback_query",
            json!({
                "id": id, "from": from, "chat_instance": "42", "data": data,
                "message": self.bot_message(chat, message, "✍️"),
            }),
        )
    }

    /// The next `n` sendMessage calls are refused with 429, retry_after 1.
    pub fn flood(&self, n: u32) {
        self.shared.inner.lock().unwrap().flood = n;
    }

    /// The next `n` polls lose their connection in the middle of the answer.
    pub fn drop_polls(&self, n: u32) {
        self.shared.inner.lock().unwrap().drops = n;
    }

    /// Drops asked for with `drop_polls` and not yet done.
    pub fn drops_left(&self) -> u32 {
        self.shared.inner.lock().unwrap().drops
    }

    /// Every call `(method, body)` in order.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.shared.inner.lock().unwrap().calls.clone()
    }

    /// The bodies of the calls to `method`.
    pub fn bodies(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b)
            .collect()
    }

    /// The offsets the polls asked for, in order.
    pub fn offsets(&self) -> Vec<i64> {
        self.shared.inner.lock().unwrap().offsets.clone()
    }

    /// Updates not yet confirmed by a later poll.
    pub fn unconfirmed(&self) -> usize {
        self.shared.inner.lock().unwrap().pending.len()
    }
}

/// The fields of a multipart/form-data body, as a JSON object of strings.
fn form_fields(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let mut out = serde_json::Map::new();
    for part in text
        .split("Content-Disposition: form-data; name=\"")
        .skip(1)
    {
        let Some((name, rest)) = part.split_once('"') else {
            continue;
        };
        let Some((_, value)) = rest.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.split("\r\n--").next().unwrap_or_default();
        out.insert(name.to_string(), json!(value));
    }
    Value::Object(out)
}

fn ok(result: Value) -> Response {
    Json(json!({ "ok": true, "result": result })).into_response()
}

fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body =
        json!({ "ok": false, "error_code": status.as_u16(), "description": description });
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (status, Json(body)).into_response()
}

async fn call(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    // Method names are case-insensitive (teloxide sends `SendMessage`);
    // calls are recorded under the documented spelling.
    let Some(method) = [
        "getUpdates",
        "sendMessage",
        "editMessageText",
        "answerCallbackQuery",
        "sendChatAction",
        "getMe",
        "setWebhook",
        "deleteWebhook",
    ]
    .into_iter()
    .find(|m| m.eq_ignore_ascii_case(&method)) else {
        return error(StatusCode::NOT_FOUND, "Not Found: method not found", None);
    };
    let method = method.to_string();
    // JSON, or multipart for the methods that may carry a file (setWebhook).
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| form_fields(&body));
    shared
        .inner
        .lock()
        .unwrap()
        .calls
        .push((method.clone(), body.clone()));
    match method.as_str() {
        "getUpdates" => updates(&shared, &body).await,
        "sendMessage" => {
            let mut g = shared.inner.lock().unwrap();
            if g.flood > 0 {
                g.flood -= 1;
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too Many Requests: retry after 1",
                    Some(json!({ "retry_after": 1 })),
                );
            }
            let id = g.next_message;
            g.next_message += 1;
            // Tests find the message a press or a reply refers to by this.
            if let Some(last) = g.calls.last_mut() {
                last.1["_messageId"] = json!(id);
            }
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            let mut m = json!({
                "message_id": id,
                "from": { "id": BOT_ID, "is_bot": true, "first_name": "Steward", "username": "steward_test_bot" },
                "chat": chat_of(chat), "date": now(), "text": body["text"],
            });
            if let Some(markup) = body
                .get("reply_markup")
                .filter(|m| m.get("inline_keyboard").is_some())
            {
                m["reply_markup"] = markup.clone();
            }
            ok(m)
        }
        "editMessageText" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            ok(json!({
                "message_id": body["message_id"],
                "from": { "id": BOT_ID, "is_bot": true, "first_name": "Steward" },
                "chat": chat_of(chat), "date": now(), "edit_date": now(), "text": body["text"],
            }))
        }
        "getMe" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Steward", "username": "steward_test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false,
        })),
        "answerCallbackQuery" | "sendChatAction" | "setWebhook" | "deleteWebhook" => {
            ok(json!(true))
        }
        _ => error(StatusCode::NOT_FOUND, "Not Found: method not found", None),
    }
}

async fn updates(shared: &Arc<Shared>, body: &Value) -> Response {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let timeout = body["timeout"].as_u64().unwrap_or(0).min(5);
    {
        let mut g = shared.inner.lock().unwrap();
        g.offsets.push(offset);
        // Telegram forgets what a higher offset confirmed.
        g.pending
            .retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let waiting = shared.news.notified();
        let (batch, drop_it) = {
            let mut g = shared.inner.lock().unwrap();
            let d = g.drops > 0 && !g.pending.is_empty();
            g.drops -= u32::from(d);
            (g.pending.clone(), d)
        };
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
            if drop_it {
                // Half an answer, then the line goes dead.
                let head = format!("{{\"ok\":true,\"result\":[{}", batch[0]);
                let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                    Ok(Bytes::from(head)),
                    Err(std::io::Error::other("connection dropped")),
                ];
                return Body::from_stream(futures_util::stream::iter(chunks)).into_response();
            }
            return ok(Value::Array(batch));
        }
        let _ = tokio::time::timeout_at(deadline, waiting).await;
    }
}
