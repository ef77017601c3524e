//! The LaunchAgent plist (see launchd.plist(5) and the macOS reference §6).

use plist::{Dictionary, Value};

use super::{LABEL, OCR_THREADS, SERVICE_PATH, ServiceSpec};

/// `~/Library/Logs/steward/`: launchd's stdout/stderr files go here.
pub fn log_dir(spec: &ServiceSpec) -> std::path::PathBuf {
    spec.user_home.join("Library/Logs/steward")
}

pub fn plist(spec: &ServiceSpec) -> String {
    let logs = log_dir(spec);
    let mut env = Dictionary::new();
    env.insert("PATH".into(), Value::String(SERVICE_PATH.into()));
    env.insert(OCR_THREADS.0.into(), Value::String(OCR_THREADS.1.into()));

    let mut d = Dictionary::new();
    d.insert("Label".into(), Value::String(LABEL.into()));
    d.insert(
        "ProgramArguments".into(),
        Value::Array(spec.args().into_iter().map(Value::String).collect()),
    );
    d.insert("RunAtLoad".into(), Value::Boolean(true));
    d.insert("KeepAlive".into(), Value::Boolean(true));
    d.insert("ThrottleInterval".into(), Value::Integer(10.into()));
    d.insert("ProcessType".into(), Value::String("Standard".into()));
    d.insert("EnvironmentVariables".into(), Value::Dictionary(env));
    d.insert(
        "StandardOutPath".into(),
        Value::String(logs.join("steward.out.log").display().to_string()),
    );
    d.insert(
        "StandardErrorPath".into(),
        Value::String(logs.join("steward.err.log").display().to_string()),
    );
    let mut out = Vec::new();
    Value::Dictionary(d)
        .to_writer_xml(&mut out)
        .expect("writing a plist to memory cannot fail");
    let mut text = String::from_utf8(out).expect("plist XML is UTF-8");
    text.push('\n');
    text
}

/// The Full Disk Access instructions printed by `install`.
pub fn full_disk_access_help(spec: &ServiceSpec) -> String {
    format!(
        "Steward reads ~/Library/Messages/chat.db, which macOS guards with Full Disk Access:\n\
         1. Open System Settings → Privacy & Security → Full Disk Access.\n\
         2. Click +, press ⌘⇧G, paste {exe} and add it; make sure its switch is on.\n\
         3. Restart the agent: launchctl kickstart -k gui/$(id -u)/{LABEL}\n\
         The grant belongs to this exact binary: after a rebuild that is not signed with a stable\n\
         identity, remove and add it again.",
        exe = spec.exe.display()
    )
}
