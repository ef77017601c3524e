//! `cargo bench --bench documents` (issue 17): index 10,000 generated files
//! (nine in ten text or Markdown, one in ten a text PDF made with lopdf) into
//! a fresh store, files/s against the 500; search latency p50/p99
//! over the 10,000 documents against 10 ms; the private memory an idle
//! watcher adds (RssAnon before and after); with `--features ocr`, OCR pages/s
//! of a 300 dpi letter page drawn by ImageMagick. `STEWARD_BENCH_DOCS` sets
//! the number of files; `STEWARD_BENCH_SMAPS=1` prints which mappings the
//! idle watcher's private memory is in.

use std::path::Path;
use std::time::{Duration, Instant};

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use steward::config::DocumentsConfig;
use steward::documents::{Documents, indexer, store};

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
    "invoice",
    "lease",
    "passport",
    "insurance",
    "policy",
    "renewal",
    "tax",
    "receipt",
    "warranty",
    "contract",
    "the",
    "and",
    "of",
    "payment",
    "due",
    "account",
    "number",
    "address",
    "date",
    "signed",
    "agreement",
    "landlord",
    "tenant",
    "vehicle",
    "registration",
    "bank",
    "statement",
    "mortgage",
    "school",
    "medical",
    "dentist",
    "prescription",
    "flight",
    "hotel",
    "booking",
];

/// `n` words: with `vocabulary` 0 only the 35 document words above (every
/// file then holds every query word: the worst case for ranking); otherwise one
/// in ten is such a word and the rest come from a skewed vocabulary of that
/// many made-up words, as real files have (a few words everywhere, most rare).
fn words(rng: &mut Lcg, n: usize, vocabulary: u64) -> String {
    (0..n)
        .map(|_| {
            if vocabulary == 0 || rng.next().is_multiple_of(10) {
                WORDS[rng.next() as usize % WORDS.len()].to_string()
            } else {
                let skewed = (rng.next() % vocabulary) * (rng.next() % 1000) / 1000;
                format!("w{skewed}x")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// 1,000 searches of two words drawn like the files' own, sorted.
fn search_times(conn: &rusqlite::Connection, vocabulary: u64) -> Vec<Duration> {
    let mut rng = Lcg(99);
    let mut times = Vec::new();
    while times.len() < 1000 {
        let q = words(&mut rng, 2, vocabulary);
        if store::terms(&q).is_empty() {
            continue; // "of the": nothing to search for
        }
        let t = Instant::now();
        let hits = store::search(conn, &q, 10).unwrap();
        times.push(t.elapsed());
        std::hint::black_box(hits);
    }
    times.sort();
    times
}

fn pdf(path: &Path, text: &str) {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" },
    );
    let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
    let content = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("Td", vec![72.into(), 720.into()]),
            Operation::new("Tj", vec![Object::string_literal(text)]),
            Operation::new("ET", vec![]),
        ],
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page = doc.add_object(
        dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content_id },
    );
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1,
            "Resources" => resources, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()] }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    doc.save(path).unwrap();
}

fn generate(root: &Path, n: usize, vocabulary: u64) {
    let mut rng = Lcg(17);
    for i in 0..n {
        let dir = root.join(format!("folder-{:03}", i % 200));
        std::fs::create_dir_all(&dir).unwrap();
        let len = 150 + (rng.next() % 200) as usize;
        let body = words(&mut rng, len, vocabulary);
        match i % 10 {
            0 => pdf(
                &dir.join(format!("doc-{i}.pdf")),
                &body[..body.len().min(400)],
            ),
            1..=3 => std::fs::write(
                dir.join(format!("note-{i}.md")),
                format!("# Note {i}\n\n{body}\n"),
            )
            .unwrap(),
            _ => std::fs::write(dir.join(format!("file-{i}.txt")), body).unwrap(),
        }
    }
}

fn rss_anon_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Private (anonymous) memory by mapping: `(range, size KiB, name) → Rss KiB`,
/// for `STEWARD_BENCH_SMAPS=1`, which prints where an idle watcher's memory is.
fn anon_mappings() -> std::collections::BTreeMap<(String, u64, String), u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut out = std::collections::BTreeMap::new();
    let mut current: Option<(String, u64, String)> = None;
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            let (lo, hi) = first.split_once('-').unwrap_or(("0", "0"));
            let size = (u64::from_str_radix(hi, 16).unwrap_or(0)
                - u64::from_str_radix(lo, 16).unwrap_or(0))
                / 1024;
            let name = parts.nth(4).unwrap_or("[anon]").to_string();
            current = (name.starts_with('[') || name == "[anon]")
                .then(|| (first.to_string(), size, name));
        } else if first == "Anonymous:"
            && let Some(key) = current.take()
        {
            let kib = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            out.insert(key, kib);
        }
    }
    out
}

fn print_growth(
    before: &std::collections::BTreeMap<(String, u64, String), u64>,
    after: &std::collections::BTreeMap<(String, u64, String), u64>,
) {
    for (key, kib) in after {
        let was = before.get(key).copied().unwrap_or(0);
        if *kib > was + 32 {
            eprintln!(
                "  {} ({} KiB mapping, {}): {was} → {kib} KiB anonymous",
                key.0, key.1, key.2
            );
        }
    }
}

fn unsafe_trim() {
    // SAFETY: malloc_trim only returns free heap pages to the system.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Made-up words in the realistic corpus.
const VOCABULARY: u64 = 20_000;

/// The same number of files with only the 35 common words: every query word
/// in every file, so each search ranks all of them.
fn worst_case_search(dir: &Path, n: usize) -> Vec<Duration> {
    let root = dir.join("Common");
    generate(&root, n, 0);
    let cfg: DocumentsConfig =
        serde_json::from_value(serde_json::json!({ "roots": [root.display().to_string()] }))
            .unwrap();
    let docs = Documents::new(&cfg, dir, dir.join("ocr-cache"));
    let mut conn = steward::store::open_writer(&dir.join("common.db")).unwrap();
    indexer::index_all(&mut conn, &docs, &mut |_, _| {}).unwrap();
    search_times(&conn, 0)
}

fn main() {
    let n: usize = std::env::var("STEWARD_BENCH_DOCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Documents");
    let made = Instant::now();
    generate(&root, n, VOCABULARY);
    eprintln!(
        "generated {n} files in {:.1} s",
        made.elapsed().as_secs_f64()
    );
    let cfg: DocumentsConfig =
        serde_json::from_value(serde_json::json!({ "roots": [root.display().to_string()] }))
            .unwrap();
    let docs = Documents::new(&cfg, dir.path(), dir.path().join("ocr-cache"));
    let db = dir.path().join("steward.db");
    let mut conn = steward::store::open_writer(&db).unwrap();

    let started = Instant::now();
    let report =
        steward::store::bulk(&mut conn, |c| indexer::index_all(c, &docs, &mut |_, _| {})).unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.indexed as usize, n, "{report:?}");
    let again = Instant::now();
    let unchanged = indexer::index_all(&mut conn, &docs, &mut |_, _| {}).unwrap();
    let again = again.elapsed().as_secs_f64();
    assert_eq!(unchanged.unchanged as usize, n);

    let times = search_times(&conn, VOCABULARY);
    let worst = worst_case_search(dir.path(), n);

    // The bench's own buffers go back first, so the delta is the watcher's.
    drop(conn);
    unsafe_trim();
    let before = rss_anon_kib();
    let maps = anon_mappings();
    let watcher = steward::documents::watch::start(docs.clone(), db.clone()).unwrap();
    // Its first pass finds everything unchanged; then it only waits for events.
    std::thread::sleep(Duration::from_secs_f64(again * 2.0 + 2.0));
    let after = rss_anon_kib();
    if std::env::var_os("STEWARD_BENCH_SMAPS").is_some() {
        eprintln!("mappings whose private memory grew with the idle watcher:");
        print_growth(&maps, &anon_mappings());
    }
    drop(watcher);

    println!("| documents ({n} files) | measured | target |");
    println!("|---|---|---|");
    println!(
        "| index, first pass | {:.0} files/s ({secs:.1} s) | ≥ 500 files/s |",
        n as f64 / secs
    );
    println!(
        "| index, nothing changed | {:.0} files/s | |",
        n as f64 / again
    );
    println!(
        "| search p50 | {:.2} ms | |",
        percentile(&times, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "| search p50 / p99, worst case (every word in every file) | {:.2} / {:.2} ms | |",
        percentile(&worst, 0.5).as_secs_f64() * 1e3,
        percentile(&worst, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| search p99 | {:.2} ms | < 10 ms |",
        percentile(&times, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| idle watcher, private memory added | {:.2} MiB (RssAnon {before} → {after} KiB, after its first pass) | < 1 MB |",
        after.saturating_sub(before) as f64 / 1024.0
    );
    ocr_pages_per_second(dir.path());
}

/// A 300 dpi US-letter page (2550×3300) of text, OCR'd a few times with the cache cleared.
fn ocr_pages_per_second(dir: &Path) {
    if !cfg!(feature = "ocr") {
        println!("| OCR | not measured: built without `--features ocr` | |");
        return;
    }
    let page = dir.join("page.png");
    let mut text = String::new();
    let mut rng = Lcg(5);
    for _ in 0..40 {
        text.push_str(&words(&mut rng, 9, 0));
        text.push('\n');
    }
    let ok = std::process::Command::new("convert")
        .args([
            "-size",
            "2550x3300",
            "xc:white",
            "-font",
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        ])
        .args([
            "-pointsize",
            "42",
            "-fill",
            "black",
            "-annotate",
            "+150+200",
        ])
        .arg(&text)
        .args(["-density", "300"])
        .arg(&page)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("| OCR | not measured: ImageMagick `convert` failed or is missing | |");
        return;
    }
    let ocr = steward::documents::ocr::Ocr::new(dir.join("ocr-cache-bench"));
    let meta = std::fs::metadata(&page).unwrap();
    let pages = 5;
    let started = Instant::now();
    for _ in 0..pages {
        let _ = std::fs::remove_dir_all(dir.join("ocr-cache-bench"));
        let read = ocr.image(&page, &meta).expect("OCR failed");
        std::hint::black_box(read);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| OCR, 300 dpi letter page (OMP_THREAD_LIMIT={}) | {:.2} pages/s ({:.2} s a page) | |",
        std::env::var("OMP_THREAD_LIMIT").unwrap_or_else(|_| "unset".into()),
        pages as f64 / secs,
        secs / pages as f64
    );
}
