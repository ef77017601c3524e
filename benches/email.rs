//! `cargo bench --bench email`: `import mbox` of generated mail (mixed plain,
//! HTML and multipart with an attachment, 2-50 KB, threads and lists), mails/s
//! and peak RSS. `STEWARD_BENCH_MAILS` sets the count (default 100,000).

use std::io::Write;
use std::time::Instant;

use steward::bridges::email::{ingest::EmailIngest, mbox};
use steward::memory::Canonicalizer;

fn rss_peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A deterministic pseudo-random stream (no dependency, same file every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const WORDS: &[&str] = &[
    "dinner", "friday", "meeting", "invoice", "flight", "thanks", "project", "the", "a", "we",
    "should", "review", "tomorrow", "please", "attached", "schedule", "call", "update", "soon",
];

fn text(rng: &mut Lcg, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    while s.len() < bytes {
        s.push_str(WORDS[(rng.next() as usize) % WORDS.len()]);
        s.push(if rng.next().is_multiple_of(12) {
            '\n'
        } else {
            ' '
        });
    }
    s
}

fn write_mbox(path: &std::path::Path, n: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut rng = Lcg(42);
    for i in 0..n {
        let size = 2_000 + (rng.next() as usize % 48_000);
        let from = format!("person{}@example.com", rng.next() % 400);
        let thread = i - (i % 4);
        let head = format!(
            "From {from} Tue Dec  1 10:00:00 2026\nFrom: Person <{from}>\nTo: me@example.com\nSubject: Re: topic {thread}\nDate: Tue, 1 Dec 2026 10:{:02}:00 +0000\nMessage-ID: <m{i}@bench>\nReferences: <m{thread}@bench>\n{}",
            i % 60,
            if i % 10 == 0 {
                "List-Id: <news.bench>\n"
            } else {
                ""
            }
        );
        let body = text(&mut rng, size).replace("\nFrom ", "\n>From ");
        let mail = match i % 3 {
            0 => format!("{head}\n{body}\n"),
            1 => format!(
                "{head}Content-Type: text/html; charset=utf-8\n\n<html><body><p>{body}</p></body></html>\n"
            ),
            _ => format!(
                "{head}Content-Type: multipart/mixed; boundary=\"b{i}\"\n\n--b{i}\nContent-Type: text/plain\n\n{body}\n--b{i}\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"doc{i}.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b{i}--\n"
            ),
        };
        out.write_all(mail.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

fn main() {
    let n: usize = std::env::var("STEWARD_BENCH_MAILS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bench.mbox");
    write_mbox(&file, n);
    let mb = std::fs::metadata(&file).unwrap().len() as f64 / 1e6;
    let mut conn = steward::store::open_writer(&dir.path().join("steward.db")).unwrap();
    let rss_before = rss_peak_kib();
    let started = Instant::now();
    let tx = conn.transaction().unwrap();
    let mut ingest = EmailIngest::new(
        &tx,
        Canonicalizer::new("US"),
        Some("Me"),
        &["me@example.com".into()],
    )
    .unwrap();
    tx.commit().unwrap();
    let counts = mbox::import(&mut conn, &mut ingest, &file, |_, _| {}).unwrap();
    let took = started.elapsed();
    assert_eq!(counts.messages as usize, n, "{counts:?}");
    println!("| measure | value |");
    println!("|---|---|");
    println!("| mails ({mb:.0} MB mbox) | {n} |");
    println!("| import mbox wall | {:.1} s |", took.as_secs_f64());
    println!("| mails/s | {:.0} |", n as f64 / took.as_secs_f64());
    println!(
        "| peak RSS (VmHWM; {:.0} MiB before) | {:.0} MiB |",
        rss_before as f64 / 1024.0,
        rss_peak_kib() as f64 / 1024.0
    );
}
