//! Headless Chromium driven over WebDriver (Debian `chromium` +
//! `chromium-driver`): chromedriver on a free 127.0.0.1 port, a fresh profile
//! per browser, nothing fetched from the network.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver; killed on drop.
pub struct Driver {
    child: Child,
    port: u16,
    profiles: tempfile::TempDir,
}

impl Driver {
    /// chromedriver, or `None` (after `server_missing`) without chromium.
    pub fn start() -> Option<Driver> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            super::server_missing(
                "chromium or chromedriver is missing (apt-get install chromium chromium-driver)",
                "browser",
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The browser runs on the real clock: .ci/run's second pass moves the
        // wall clock under libfaketime to catch Steward's time bombs, and
        // Chromium under it took 7 minutes for one test, starving the rest.
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .env_remove("FAKETIME_DONT_FAKE_MONOTONIC")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Driver {
            child,
            port,
            profiles: tempfile::tempdir().unwrap(),
        })
    }

    /// A new headless browser; `javascript: false` turns scripts off.
    pub async fn browser(&self, javascript: bool) -> fantoccini::Client {
        let profile = tempfile::tempdir_in(self.profiles.path()).unwrap().keep();
        let mut prefs = serde_json::Map::new();
        if !javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1100,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": prefs,
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        // rustls needs a process-wide provider (Steward links only ring). The
        // driver is plain HTTP on loopback; TLS is never used.
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        fantoccini::ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where failure screenshots go: `<target>/dashboard-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A screenshot of each of `paths` under `base`, named `<prefix>-<page>.png`.
pub async fn screenshot_pages(c: &fantoccini::Client, base: &str, prefix: &str, paths: &[&str]) {
    let dir = screenshot_dir();
    for path in paths {
        if c.goto(&format!("{base}{path}")).await.is_err() {
            continue;
        }
        if let Ok(png) = c.screenshot().await {
            let name = match path.trim_matches('/') {
                "" => "approvals",
                p => p,
            };
            let file = dir.join(format!("{prefix}-{}.png", name.replace('/', "-")));
            let _ = std::fs::write(&file, png);
            eprintln!("screenshot: {}", file.display());
        }
    }
}

/// Log in to the dashboard at `base` with the API token: `/` sends to the
/// login page, whose form posts and redirects. Waits for the URL to move on,
/// not for an element: reading the login page's h1 raced that navigation (a
/// stale element in CI). Each caller then waits for its own page's content.
pub async fn log_in(c: &fantoccini::Client, base: &str, tok: &str) -> anyhow::Result<()> {
    use fantoccini::Locator;
    c.goto(&format!("{base}/")).await?;
    anyhow::ensure!(
        c.current_url().await?.path() == "/login",
        "not sent to /login"
    );
    c.find(Locator::Css("input[name=token]"))
        .await?
        .send_keys(tok)
        .await?;
    click(c, Locator::Css("button[type=submit]")).await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while c.current_url().await?.path() == "/login" {
        anyhow::ensure!(
            Instant::now() < deadline,
            "still on /login after logging in"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Find and click, again if the live region was swapped between the two
/// (the event stream re-renders Approvals; the old button is then stale).
pub async fn click(c: &fantoccini::Client, at: fantoccini::Locator<'_>) -> anyhow::Result<()> {
    let mut tries = 0;
    loop {
        let clicked = match c.find(at).await {
            Ok(e) => e.click().await,
            Err(e) => Err(e),
        };
        match clicked {
            Ok(()) => return Ok(()),
            Err(e) if tries < 5 && e.to_string().contains("stale element") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
