//! A real IMAP server for tests: Debian's dovecot, unprivileged mail storage,
//! foreground, a private config on a free loopback port. Where dovecot is not
//! installed the test says so loudly and is skipped, unless
//! `STEWARD_REQUIRE_SERVERS=1` (set by `.ci/run`), which turns the skip into a failure.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
    uid: u32,
    gid: u32,
    seq: std::sync::atomic::AtomicU32,
}

const BIN: &str = "/usr/sbin/dovecot";

/// `None` (after saying why) when dovecot is missing and servers are optional.
pub fn start(user: &str, password: &str) -> Option<Dovecot> {
    start_with(user, password, "")
}

/// `start` with extra lines for dovecot.conf (e.g. an `imap_capability` without IDLE).
pub fn start_with(user: &str, password: &str, extra_conf: &str) -> Option<Dovecot> {
    if !Path::new(BIN).exists() {
        super::server_missing(
            "dovecot is not installed (Debian: apt-get install dovecot-imapd)",
            "IMAP",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    // As root, dovecot refuses to store mail as root (use nobody) and drops
    // its login processes to its own users; unprivileged, everything is us.
    // SAFETY: getuid/getgid have no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    let (uid, gid) = if root_user {
        nobody()
    } else {
        unsafe { (libc::getuid(), libc::getgid()) }
    };
    let me = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
    let (login_user, internal_user) = if root_user {
        ("dovenull".to_string(), "dovecot".to_string())
    } else {
        (me.clone(), me)
    };
    for d in ["run", "state", "mail"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("passwd"),
        format!("{user}:{{PLAIN}}{password}::::\n"),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = root.display();
    std::fs::write(
        root.join("dovecot.conf"),
        format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {r}/run\nstate_dir = {r}/state\nlog_path = {r}/dovecot.log\n\
             ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             mail_location = maildir:{r}/mail/%u/Maildir\ndefault_login_user = {login_user}\ndefault_internal_user = {internal_user}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={r}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 0\n  }}\n}}\n{extra_conf}\n"
        ),
    )
    .unwrap();
    let maildir = root.join("mail").join(user).join("Maildir");
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(d)).unwrap();
    }
    chown_tree(&root.join("mail"), uid, gid);
    let mut d = Dovecot {
        dir,
        port,
        child: None,
        uid,
        gid,
        seq: std::sync::atomic::AtomicU32::new(0),
    };
    d.restart();
    Some(d)
}

/// nobody's uid and gid from /etc/passwd.
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .and_then(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
        })
        .unwrap_or((65534, 65534))
}

fn chown_tree(p: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::chown(p, Some(uid), Some(gid));
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

impl Dovecot {
    /// (Re)start the server and wait until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        let conf = self.dir.path().join("dovecot.conf");
        let child = Command::new(BIN)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let ok = super::wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
        assert!(ok, "dovecot did not start: {}", self.log());
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user).join("Maildir")
    }

    /// Another mail user (dovecot re-reads its passwd file on change).
    pub fn add_user(&self, user: &str, password: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("passwd"))
            .unwrap();
        writeln!(f, "{user}:{{PLAIN}}{password}::::").unwrap();
        let maildir = self.maildir(user);
        for d in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(d)).unwrap();
        }
        chown_tree(&self.dir.path().join("mail"), self.uid, self.gid);
    }

    /// The folder that holds every user's Maildir (what an MTA delivers into).
    pub fn mail_root(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// The raw mails in `user`'s folder (`""` is INBOX, else e.g. `"Sent"`).
    pub fn mails(&self, user: &str, folder: &str) -> Vec<String> {
        let mut dir = self.maildir(user);
        if !folder.is_empty() {
            dir = dir.join(format!(".{folder}"));
        }
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
                for e in rd {
                    out.push(std::fs::read_to_string(e.unwrap().path()).unwrap_or_default());
                }
            }
        }
        out
    }

    /// Deliver `raw` to `user`'s INBOX as an MTA would (tmp, then rename into new).
    pub fn deliver(&self, user: &str, raw: &str) {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{}.{n}.steward-test", std::process::id());
        let tmp = self.maildir(user).join("tmp").join(&name);
        std::fs::write(&tmp, raw.replace('\n', "\r\n")).unwrap();
        let _ = std::os::unix::fs::chown(&tmp, Some(self.uid), Some(self.gid));
        std::fs::rename(&tmp, self.maildir(user).join("new").join(&name)).unwrap();
    }

    /// Deliver as `deliver` does, with the file's mtime (dovecot's internal
    /// date, which IMAP SINCE searches) `days_ago` days back.
    pub fn deliver_dated(&self, user: &str, raw: &str, days_ago: u64) {
        let before: std::collections::HashSet<_> =
            std::fs::read_dir(self.maildir(user).join("new"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
        self.deliver(user, raw);
        let when = std::time::SystemTime::now() - Duration::from_secs(days_ago * 86_400);
        for e in std::fs::read_dir(self.maildir(user).join("new")).unwrap() {
            let p = e.unwrap().path();
            if !before.contains(&p) {
                let f = std::fs::File::options().write(true).open(&p).unwrap();
                f.set_modified(when).unwrap();
            }
        }
    }

    /// Make the server give the folder a new UIDVALIDITY (as after a server rebuild).
    pub fn reset_uidvalidity(&mut self, user: &str) {
        self.stop();
        let m = self.maildir(user);
        for e in std::fs::read_dir(&m).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("dovecot") {
                let _ = std::fs::remove_file(&p);
            }
        }
        // Mail already read sits in cur/ with flags; move it back so it is all "new" again.
        for e in std::fs::read_dir(m.join("cur")).unwrap() {
            let p = e.unwrap().path();
            let base = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap()
                .to_string();
            std::fs::rename(&p, m.join("new").join(base)).unwrap();
        }
        self.restart();
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}
