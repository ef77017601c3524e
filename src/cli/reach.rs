//! Reaching the pipeline from a one-shot command: through the running daemon's
//! token-guarded HTTP API when one runs for this home, else in-process for the
//! single command, holding the daemon's lock so the two never act at once.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::config::Config;
use crate::daemon::{self, pidfile};
use crate::home::Home;
use crate::http::probe;
use crate::pipeline::Pipeline;
use crate::store::Store;

pub enum Reach {
    Daemon { addr: SocketAddr, token: String },
    Local,
}

pub fn reach(home: &Home) -> anyhow::Result<Reach> {
    let Some(info) = pidfile::inspect(&home.pid_path()) else {
        return Ok(Reach::Local);
    };
    let addr = info
        .listen
        .parse()
        .context("the pid file names no listen address")?;
    let token =
        super::client_token(home).context("cannot read the api-token to reach the daemon")?;
    Ok(Reach::Daemon { addr, token })
}

/// POST JSON to the daemon; a non-2xx answer becomes its `error` message.
pub fn post(
    addr: SocketAddr,
    token: &str,
    path: &str,
    body: &Value,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let resp = probe::post_json(addr, path, Some(token), &body.to_string(), timeout)?;
    if !(200..300).contains(&resp.status) {
        let msg = serde_json::from_str::<Value>(&resp.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(resp.body);
        bail!("{msg}");
    }
    Ok(serde_json::from_str(&resp.body)?)
}

/// Build this home's pipeline in-process, run `f` on it, and close the store.
pub fn locally<T, F, Fut>(home: &Home, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Pipeline, Config) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let _lock = pidfile::acquire(&home.pid_path())?;
    let config = Config::load(&home.config_path())?;
    let store = Store::open(&home.db_path())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let pipeline = daemon::build_pipeline(home, &config, store.clone())?;
        pipeline.check_integrity().await?;
        let out = f(pipeline, config).await;
        store.close().await;
        out
    })
}
