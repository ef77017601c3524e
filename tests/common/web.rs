//! The dashboard over plain HTTP as a browser without cookies of its own:
//! the session cookie and CSRF token by hand (`tests/dashboard*.rs`).

use std::time::Duration;

use serde_json::{Value, json};
use steward::http::probe;

use super::{Daemon, TestHome};

pub const T: Duration = Duration::from_secs(10);

pub fn token(home: &TestHome) -> String {
    std::fs::read_to_string(home.file("api-token"))
        .unwrap()
        .trim()
        .to_string()
}

/// A draft to Ann on the console bridge, waiting for the owner (a contact
/// reply plan, as the assistant makes; the console has no inbound reader).
pub fn draft(d: &Daemon, tok: &str, text: &str) -> Value {
    let body = json!({
        "agent": "imessage-assistant",
        "plan": [{"kind": "reply", "channel": "console", "to": "ann", "text": text}],
    });
    let resp = probe::post_json(d.addr, "/v1/runs", Some(tok), &body.to_string(), T).unwrap();
    assert_eq!(resp.status, 201, "{}", resp.body);
    let v: Value = serde_json::from_str(&resp.body).unwrap();
    assert_eq!(v["status"], "waiting", "{v}");
    v
}

/// Lines the console delivered to Ann with `text`.
pub fn delivered(home: &TestHome, text: &str) -> usize {
    std::fs::read_to_string(home.file("console/outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_default();
            v["to"] == "ann" && v["text"] == text
        })
        .count()
}

/// A browser without cookies of its own: the cookie and CSRF token by hand.
pub struct Web {
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: String,
}

pub fn csrf_in(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

impl Web {
    pub fn new(d: &Daemon) -> Web {
        Web {
            base: format!("http://{}", d.addr),
            http: steward::tls::http_client()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: String::new(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html")
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap()
    }

    /// Log in with `token` through the form; the status of the POST.
    pub async fn login(&mut self, token: &str) -> u16 {
        let page = self.get("/login").await;
        let login = set_cookie(&page, "steward_login").expect("a login cookie");
        self.cookie = login.split(';').next().unwrap().to_string();
        let csrf = csrf_in(&page.text().await.unwrap());
        let resp = self
            .post("/login", &[("csrf", &csrf), ("token", token)])
            .await;
        if let Some(c) = set_cookie(&resp, "steward_session") {
            assert!(
                c.contains("HttpOnly") && c.contains("SameSite=Strict"),
                "{c}"
            );
            self.cookie = c.split(';').next().unwrap().to_string();
        }
        resp.status().as_u16()
    }

    pub async fn csrf(&self) -> String {
        csrf_in(&self.get("/").await.text().await.unwrap())
    }
}
