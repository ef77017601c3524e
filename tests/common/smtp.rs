//! A real SMTP server for tests: PyPI's aiosmtpd (`tests/common/smtpd.py`)
//! with AUTH, optionally STARTTLS on a self-signed certificate, delivering
//! into the Maildirs the dovecot harness serves. Where aiosmtpd is missing the
//! test says so loudly and is skipped, unless `STEWARD_REQUIRE_SERVERS=1`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Smtpd {
    pub port: u16,
    /// The certificate to trust, in STARTTLS mode.
    pub cert: Option<PathBuf>,
    root: PathBuf,
    child: Child,
    _tls: Option<tempfile::TempDir>,
}

fn skip(why: &str) -> Option<Smtpd> {
    super::server_missing(why, "SMTP");
    None
}

/// Start aiosmtpd delivering into `mail_root/<local part>/Maildir`.
pub fn start(mail_root: &Path, user: &str, password: &str, starttls: bool) -> Option<Smtpd> {
    let has = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        return skip("aiosmtpd is not installed (pip install aiosmtpd)");
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/smtpd.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .arg(port.to_string())
        .arg(mail_root)
        .arg(user)
        .arg(password);
    let (tls, cert) = if starttls {
        let dir = tempfile::tempdir().unwrap();
        let Some((cert, key)) = super::self_signed(dir.path()) else {
            return skip("openssl could not make a test certificate");
        };
        cmd.arg(&cert).arg(&key);
        (Some(dir), Some(cert))
    } else {
        (None, None)
    };
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let ok = super::wait_until(Duration::from_secs(15), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ok, "aiosmtpd did not start on {port}");
    Some(Smtpd {
        port,
        cert,
        root: mail_root.to_path_buf(),
        child,
        _tls: tls,
    })
}

impl Smtpd {
    /// How many mails the server accepted.
    pub fn accepted(&self) -> usize {
        std::fs::read_to_string(self.root.join("smtpd.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
