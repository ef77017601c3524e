//! Starting the release daemon on a home, and the time from exec to
//! `/healthz` answering 200 (shared by the foundation and iMessage benches).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use steward::http::probe;

/// `steward up` on `home` and a free loopback port, once it says where it listens.
pub fn spawn(home: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_steward"))
        .args(["--home"])
        .arg(home)
        .args(["up", "--listen", "127.0.0.1:0"])
        .env("STEWARD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .expect("no listening line: the daemon did not start (run `steward up` on this home to see why)")
        .trim()
        .parse()
        .unwrap();
    (child, addr)
}

/// SIGTERM, and the time until the daemon exited.
pub fn term_and_wait(child: &mut Child) -> Duration {
    let start = Instant::now();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    start.elapsed()
}

/// One start: exec → `/healthz` 200, then the stop (SIGTERM → exit), in ms.
pub fn start_and_stop(home: &Path) -> (f64, f64) {
    let start = Instant::now();
    let (mut child, addr) = spawn(home);
    while !probe::get(addr, "/healthz", None, Duration::from_secs(1)).is_ok_and(|r| r.status == 200)
    {
        std::thread::sleep(Duration::from_micros(200));
    }
    let ready = start.elapsed().as_secs_f64() * 1000.0;
    let stop = term_and_wait(&mut child).as_secs_f64() * 1000.0;
    (ready, stop)
}

/// The median and the 90th percentile.
pub fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p90 = v[(v.len() * 9 / 10).min(v.len() - 1)];
    (v[v.len() / 2], p90)
}
