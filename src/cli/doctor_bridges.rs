//! The `doctor` checks of the channels: iMessage can read chat.db, each mail
//! account logs in, the WhatsApp number and the Telegram bot answer.

use super::doctor::{Check, Level, probe_runtime};
use crate::config::Config;
use crate::home;

pub fn check_imessage(config: Option<&Config>) -> Check {
    use crate::bridges::imessage::{
        Paths,
        chatdb::{ChatDb, ChatDbError},
    };
    const NAME: &str = "imessage";
    let Some(cfg) = config.map(|c| &c.bridges.imessage) else {
        return Check::ok(NAME, "skipped (config invalid)");
    };
    if !cfg.enabled {
        return Check::ok(NAME, "bridge disabled (bridges.imessage.enabled)");
    }
    let Ok(user_home) = home::user_home() else {
        return Check::bad(NAME, Level::Fail, "HOME is not set", "set HOME");
    };
    let paths = Paths::resolve(cfg, &user_home);
    match ChatDb::open(&paths.chat_db).and_then(|db| db.max_rowid()) {
        Ok(n) => Check::ok(
            NAME,
            format!("{} readable (newest row {n})", paths.chat_db.display()),
        ),
        Err(e @ ChatDbError::NoFullDiskAccess(_)) => Check::bad(
            NAME,
            Level::Fail,
            e.to_string(),
            "System Settings → Privacy & Security → Full Disk Access → add the steward binary, then `launchctl kickstart -k gui/$(id -u)/dev.steward.daemon`",
        ),
        Err(e) => Check::bad(
            NAME,
            Level::Fail,
            e.to_string(),
            "point bridges.imessage.chatDb at the Messages database, or set bridges.imessage.enabled: false",
        ),
    }
}

/// Each mail account: connect, log in, IDLE offered.
pub fn check_email(config: Option<&Config>) -> Check {
    const NAME: &str = "email";
    let Some(accounts) = config.map(|c| &c.bridges.email.accounts) else {
        return Check::ok(NAME, "skipped (config invalid)");
    };
    if accounts.is_empty() {
        return Check::ok(NAME, "no mail accounts (bridges.email.accounts)");
    }
    let rt = match probe_runtime(NAME, "mail") {
        Ok(rt) => rt,
        Err(check) => return check,
    };
    let mut lines = Vec::new();
    let mut failed = Vec::new();
    for a in accounts {
        match rt.block_on(crate::bridges::email::imap::probe(a)) {
            Ok(true) => lines.push(format!("{}: login ok, IDLE", a.name)),
            Ok(false) => lines.push(format!(
                "{}: login ok, no IDLE (polled every minute)",
                a.name
            )),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if failed.is_empty() {
        Check::ok(NAME, lines.join("; "))
    } else {
        Check::bad(
            NAME,
            Level::Fail,
            failed.join("; "),
            "fix the account in bridges.email.accounts (host, port, user, password reference)",
        )
    }
}

/// The Cloud API number answers with the token (the secrets' presence is `secrets`).
pub fn check_whatsapp(home: &std::path::Path, config: Option<&Config>) -> Check {
    const NAME: &str = "whatsapp";
    let Some(w) = config.and_then(|c| c.bridges.whatsapp.as_ref()) else {
        return Check::ok(NAME, "not configured (bridges.whatsapp)");
    };
    let Some(w) = w.cloud() else {
        return check_whatsapp_linked(home);
    };
    let token = match w.token.resolve() {
        Ok(t) => t,
        Err(e) => {
            return Check::bad(
                NAME,
                Level::Fail,
                e.to_string(),
                w.token.fix("bridges.whatsapp.token"),
            );
        }
    };
    let rt = match probe_runtime(NAME, "the Graph API") {
        Ok(rt) => rt,
        Err(check) => return check,
    };
    let graph = crate::bridges::whatsapp::cloud::graph::Graph::new(
        &w.api_url,
        &w.api_version,
        &w.phone_number_id,
    );
    match rt.block_on(graph.probe(token.expose())) {
        Ok(number) => Check::ok(NAME, format!("Cloud API number {number}")),
        Err(e) => Check::bad(
            NAME,
            Level::Fail,
            e.to_string(),
            "check bridges.whatsapp.phoneNumberId and that the token has whatsapp_business_messaging (Meta's developer console)",
        ),
    }
}

/// The linked device, from the link state (no connection: the daemon holds
/// the session): linked with the number and the last event, or why not.
fn check_whatsapp_linked(home: &std::path::Path) -> Check {
    use crate::bridges::whatsapp::linked::state::{self, Status};
    const NAME: &str = "whatsapp";
    let st = state::load(home);
    let last = st
        .last_event_at
        .as_deref()
        .map_or("no event yet".to_string(), |t| format!("last event {t}"));
    match st.status {
        Status::Linked => Check::ok(
            NAME,
            format!(
                "linked {} ({last})",
                super::whatsapp::display_number(st.number.as_deref().unwrap_or("?"))
            ),
        ),
        Status::Unlinked => Check::bad(
            NAME,
            Level::Warn,
            "unlinked: bridges.whatsapp (mode: linked) has no session",
            "steward whatsapp link",
        ),
        s => Check::bad(
            NAME,
            Level::Fail,
            format!(
                "{}: {} ({last})",
                s.as_str(),
                st.ended.as_deref().unwrap_or("WhatsApp ended the session")
            ),
            "steward whatsapp link",
        ),
    }
}

/// The bot: the token resolves and Telegram (or `apiUrl`) knows it (getMe).
pub fn check_telegram(config: Option<&Config>) -> Check {
    const NAME: &str = "telegram";
    let Some(cfg) = config.and_then(|c| c.bridges.telegram.as_ref()) else {
        return Check::ok(NAME, "no bot (bridges.telegram)");
    };
    let fix = "create the bot with @BotFather and point bridges.telegram.token at its token (README: Telegram)";
    let api = cfg
        .token
        .resolve()
        .map_err(|e| e.to_string())
        .and_then(|t| {
            crate::bridges::telegram::api::Api::new(t.expose(), &cfg.api_url, cfg.poll_seconds)
                .map_err(|e| e.to_string())
        });
    let api = match api {
        Ok(a) => a,
        Err(e) => return Check::bad(NAME, Level::Fail, e, fix),
    };
    let rt = match probe_runtime(NAME, "Telegram") {
        Ok(rt) => rt,
        Err(check) => return check,
    };
    let me = rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), api.me()).await
    });
    match me {
        Ok(Ok((id, username))) => Check::ok(
            NAME,
            format!(
                "bot @{username} ({id}); the owner is user {}",
                cfg.owner_user_id
            ),
        ),
        Ok(Err(e)) => Check::bad(NAME, Level::Fail, format!("getMe failed: {e}"), fix),
        Err(_) => Check::bad(
            NAME,
            Level::Fail,
            format!("no answer from {} in 10 s", cfg.api_url),
            "check the network, or bridges.telegram.apiUrl",
        ),
    }
}
