//! `steward import imessage [--db PATH] [--contacts PATH]... [--json]`: backfill
//! memory from the Messages and Contacts databases; `steward import mbox FILE
//! [--json]`: mail from an mbox file; `steward import email --account NAME
//! [--since 90d] [--json]`: an account's mail over IMAP; `steward import whatsapp FILE [--chat NAME]
//! [--me NAME] [--date-order dmy|mdy] [--json]`: a WhatsApp chat export; `steward import
//! telegram result.json [--json]`: Telegram Desktop's export. Idempotent; history only fills memory
//! and is never acted on.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::json;

use crate::bridges::imessage::{self, Paths, chatdb::ChatDb, ingest::Ingest};
use crate::config::Config;
use crate::home::{self, Home};
use crate::memory::Canonicalizer;
use crate::store;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Messages (chat.db) and Contacts into memory.
    Imessage {
        /// The chat.db to read (default: bridges.imessage.chatDb, else ~/Library/Messages/chat.db).
        #[arg(long)]
        db: Option<PathBuf>,
        /// AddressBook databases or folders (repeatable).
        #[arg(long)]
        contacts: Vec<PathBuf>,
        /// Print the import's counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// An account's mail over IMAP into memory (idempotent; never acted on).
    Email {
        /// The account's name in bridges.email.accounts.
        #[arg(long)]
        account: String,
        /// How far back: `90d`, `12w`, `6m`, or a date (`2026-09-01`); all mail when unset.
        #[arg(long)]
        since: Option<String>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A WhatsApp "Export chat" file (.txt or .zip) into memory (idempotent; never acted on).
    Whatsapp {
        /// The exported .txt, or the .zip with media (only its text is read).
        file: PathBuf,
        /// The chat's name (default: from the file name, "WhatsApp Chat with NAME").
        #[arg(long)]
        chat: Option<String>,
        /// The name your own lines carry in the export (default: owner.name in steward.yaml).
        #[arg(long)]
        me: Option<String>,
        /// Day/month order of the dates, when the file cannot tell: dmy (31/12) or mdy (12/31).
        #[arg(long, value_name = "dmy|mdy")]
        date_order: Option<crate::bridges::whatsapp::export::DateOrder>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Telegram Desktop's JSON export (result.json) into memory (idempotent; never acted on).
    Telegram {
        /// The export's result.json (Settings → Advanced → Export Telegram data, JSON).
        file: PathBuf,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mail from an mbox file into memory (idempotent by Message-ID; never acted on).
    Mbox {
        /// The mbox file (Apple Mail, Thunderbird and Google Takeout export it).
        file: PathBuf,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Home, cmd: Command) -> anyhow::Result<ExitCode> {
    let (db, contacts, json) = match cmd {
        Command::Imessage { db, contacts, json } => (db, contacts, json),
        Command::Mbox { file, json } => return mbox(home, &file, json),
        Command::Telegram { file, json } => return telegram(home, &file, json),
        Command::Whatsapp {
            file,
            chat,
            me,
            date_order,
            json,
        } => {
            return whatsapp(
                home,
                &file,
                chat.as_deref(),
                me.as_deref(),
                date_order,
                json,
            );
        }
        Command::Email {
            account,
            since,
            json,
        } => return email(home, &account, since.as_deref(), json),
    };
    // Checked before anything is created: a typo must not become "no contacts".
    if let Some(missing) = contacts.iter().find(|p| std::fs::metadata(p).is_err()) {
        return Err(super::UsageError(format!(
            "--contacts {}: no such file or folder; pass an AddressBook-v22.abcddb or the folder holding one (default: ~/Library/Application Support/AddressBook)",
            missing.display()
        ))
        .into());
    }
    let config = Config::load(&home.config_path())?;
    let mut paths = Paths::resolve(&config.bridges.imessage, &home::user_home()?);
    if let Some(db) = db {
        paths.chat_db = db;
    }
    if !contacts.is_empty() {
        paths.contacts = contacts;
    }
    let started = Instant::now();
    let mut chat_db = ChatDb::open(&paths.chat_db)?;
    let mut owner = config.owner.handles.clone();
    owner.extend(chat_db.owner_accounts()?);
    let (cards, unreadable) = imessage::load_cards(&paths.contacts);

    let mut conn = store::open_writer(&home.db_path())?;
    let canon = Canonicalizer::new(config.owner.region.as_str());
    let mut ingest = {
        let tx = conn.transaction()?;
        let name = Some(config.owner.name.as_str()).filter(|n| !n.is_empty());
        let ingest = Ingest::new(&tx, canon, name, &owner, &cards)?;
        tx.commit()?;
        ingest
    };
    let bar = progress_bar(json, "{bar:40} {pos}/{len} rows  {rate}  eta {eta}");
    let counts = imessage::backfill(&mut conn, &mut chat_db, &mut ingest, |done, max| {
        show(bar.as_ref(), done as u64, max as u64)
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(&counts)?;
        v["seconds"] = json!((seconds * 1000.0).round() / 1000.0);
        v["contactsUnreadable"] = json!(unreadable);
        super::print_json(&v)?;
    } else {
        outln!(
            "Imported {} messages and {} reactions from {} in {seconds:.1}s: {} new people, {} new chats, {} skipped, {} already known.",
            counts.messages,
            counts.reactions,
            paths.chat_db.display(),
            counts.people,
            counts.chats,
            counts.skipped,
            counts.already_known
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(json: bool, template: &str) -> Option<indicatif::ProgressBar> {
    (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .with_key("rate", rate),
        );
        bar
    })
}

/// Items per second as a whole number ("35210/s"; indicatif's own shows four decimals).
fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{}/s", whole_rate(state.per_sec()));
}

fn whole_rate(per_sec: f64) -> u64 {
    if per_sec.is_finite() && per_sec > 0.0 {
        per_sec.round() as u64
    } else {
        0
    }
}

fn show(bar: Option<&indicatif::ProgressBar>, done: u64, total: u64) {
    if let Some(bar) = bar {
        bar.set_length(total);
        bar.set_position(done);
    }
}

fn mbox(home: &Home, file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    use crate::bridges::email::{ingest::EmailIngest, mbox};
    let config = Config::load(&home.config_path())?;
    let started = Instant::now();
    let mut conn = store::open_writer(&home.db_path())?;
    let mut ingest = {
        let tx = conn.transaction()?;
        let name = Some(config.owner.name.as_str()).filter(|n| !n.is_empty());
        let canon = Canonicalizer::new(config.owner.region.as_str());
        let ingest = EmailIngest::new(&tx, canon, name, &config.owner.handles)?;
        tx.commit()?;
        ingest
    };
    let bar = progress_bar(
        json,
        "{bar:40} {bytes}/{total_bytes}  {bytes_per_sec}  eta {eta}",
    );
    let counts = mbox::import(&mut conn, &mut ingest, file, |done, total| {
        show(bar.as_ref(), done, total)
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report_mail(&counts, &file.display().to_string(), started, json)?;
    Ok(ExitCode::SUCCESS)
}

fn whatsapp(
    home: &Home,
    file: &std::path::Path,
    chat: Option<&str>,
    me: Option<&str>,
    order: Option<crate::bridges::whatsapp::export::DateOrder>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use crate::bridges::whatsapp::import::{self, WhatsappImport};
    let started = Instant::now();
    // Parsed whole before the home or the store is touched: a bad file changes nothing.
    // Errors the right flag fixes are usage errors (exit 2).
    let usage = |e: import::ImportError| -> anyhow::Error {
        if e.wants_flag() {
            super::UsageError(e.to_string()).into()
        } else {
            e.into()
        }
    };
    let export = import::read(file, chat, order).map_err(usage)?;
    // The CLI refused a missing home before this point.
    let config = Config::load(&home.config_path())?;
    let owner_sender =
        import::owner_sender(&export.parsed.lines, me, &config.owner.name).map_err(usage)?;
    let mut conn = store::open_writer(&home.db_path())?;
    let mut ingest = {
        let tx = conn.transaction()?;
        let name = Some(config.owner.name.as_str()).filter(|n| !n.is_empty());
        let canon = Canonicalizer::new(config.owner.region.as_str());
        let ingest = WhatsappImport::new(
            &tx,
            canon,
            name,
            &config.owner.handles,
            owner_sender.clone(),
        )?;
        tx.commit()?;
        ingest
    };
    let bar = progress_bar(json, "{bar:40} {pos}/{len} messages  {rate}  eta {eta}");
    let zone = config.owner.timezone.zone();
    let counts = import::import(&mut conn, &mut ingest, &export, &zone, |done, total| {
        show(bar.as_ref(), done, total)
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(&counts)?;
        v["seconds"] = json!((seconds * 1000.0).round() / 1000.0);
        v["chat"] = json!(export.chat);
        v["me"] = json!(owner_sender);
        super::print_json(&v)?;
    } else {
        outln!(
            "Imported {} messages from the WhatsApp chat {:?} in {seconds:.1}s: {} new people, {} new chats, {} skipped ({} system lines), {} already known; your lines are {}.",
            counts.messages,
            export.chat,
            counts.people,
            counts.chats,
            counts.skipped,
            counts.system,
            counts.already_known,
            owner_sender.map_or("none (you wrote nothing here)".to_string(), |s| format!(
                "{s:?}"
            )),
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn telegram(home: &Home, file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    use crate::bridges::telegram::export;
    let config = Config::load(&home.config_path())?;
    let started = Instant::now();
    let mut conn = store::open_writer(&home.db_path())?;
    let canon = Canonicalizer::new(config.owner.region.as_str());
    let name = Some(config.owner.name.as_str()).filter(|n| !n.is_empty());
    let owner_user = config.bridges.telegram.as_ref().map(|t| t.owner_user_id);
    let bar = progress_bar(json, "{bar:40} {pos}/{len} messages  {rate}  eta {eta}");
    let counts = export::import(&mut conn, &canon, name, owner_user, file, |done, total| {
        show(bar.as_ref(), done, total)
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(&counts)?;
        v["seconds"] = json!((seconds * 1000.0).round() / 1000.0);
        super::print_json(&v)?;
    } else {
        outln!(
            "Imported {} Telegram messages from {} in {seconds:.1}s: {} new people, {} new chats, {} skipped (service lines and the like), {} already known.",
            counts.messages,
            file.display(),
            counts.people,
            counts.chats,
            counts.skipped,
            counts.already_known
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn email(home: &Home, account: &str, since: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    use crate::bridges::email::{backfill, ingest::EmailIngest};
    let config = Config::load(&home.config_path())?;
    let Some(acct) = config
        .bridges
        .email
        .accounts
        .iter()
        .find(|a| a.name == account)
        .cloned()
    else {
        let names: Vec<&str> = config
            .bridges
            .email
            .accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        anyhow::bail!(
            "no email account named {account:?} in steward.yaml (bridges.email.accounts: {})",
            if names.is_empty() {
                "none configured".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let today = jiff::Zoned::now()
        .with_time_zone(config.owner.timezone.zone())
        .date();
    let since = match since {
        Some(s) => Some(backfill::parse_since(s, today).ok_or_else(|| {
            anyhow::anyhow!("--since {s:?}: use a span like 90d, 12w, 6m or a date like 2026-09-01")
        })?),
        None => None,
    };
    let started = Instant::now();
    let store = crate::store::Store::open(&home.db_path())?;
    let mut owner = config.owner.handles.clone();
    owner.push(acct.address.clone());
    let name = Some(config.owner.name.clone()).filter(|n| !n.is_empty());
    let canon = Canonicalizer::new(config.owner.region.as_str());
    let ingest =
        store.write_blocking(move |c| Ok(EmailIngest::new(c, canon, name.as_deref(), &owner)?))?;
    let ingest = std::sync::Arc::new(std::sync::Mutex::new(ingest));
    let bar = progress_bar(json, "{bar:40} {pos}/{len} mails  eta {eta}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let show_progress = |done: u64, total: u64| show(bar.as_ref(), done, total);
    rt.block_on(backfill::import(
        &acct,
        since,
        &store,
        &ingest,
        &show_progress,
    ))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let counts = ingest
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .counts
        .clone();
    report_mail(&counts, account, started, json)?;
    Ok(ExitCode::SUCCESS)
}

/// The counts of a mail import, as JSON (`import imessage`'s shape) or a line.
fn report_mail(
    counts: &crate::bridges::email::ingest::Counts,
    from: &str,
    started: Instant,
    json: bool,
) -> anyhow::Result<()> {
    let seconds = started.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(counts)?;
        v["seconds"] = json!((seconds * 1000.0).round() / 1000.0);
        super::print_json(&v)?;
    } else {
        outln!(
            "Imported {} mails from {from} in {seconds:.1}s: {} new people, {} new threads, {} skipped, {} already known.",
            counts.messages,
            counts.people,
            counts.chats,
            counts.skipped,
            counts.already_known
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_are_whole_numbers() {
        assert_eq!(super::whole_rate(35_210.5), 35_211);
        assert_eq!(super::whole_rate(0.6), 1);
        assert_eq!(super::whole_rate(f64::NAN), 0);
        assert_eq!(super::whole_rate(f64::INFINITY), 0);
    }
}
