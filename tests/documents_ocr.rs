//! Issue 17 with the `ocr` feature: a PNG of known text (ImageMagick with the
//! DejaVu font) and scanned PDFs (an image-only page, as JPEG and as Flate
//! gray samples) are read by Tesseract; the text matches within a small edit
//! distance; the cache files are 0600; a changed image is read again once.
//! Without the feature, or without ImageMagick, the test says so loudly (and
//! fails under STEWARD_REQUIRE_SERVERS=1).

mod common;

use std::path::{Path, PathBuf};

use common::docfix::{self, ScanImage};
use common::{TestHome, json, mode, stderr, stdout};

fn ready() -> Option<&'static str> {
    if !cfg!(feature = "ocr") {
        common::server_missing(
            "steward was built without the `ocr` feature (cargo test --features ocr)",
            "OCR",
        );
        return None;
    }
    let Some(magick) = docfix::magick() else {
        common::server_missing(
            "ImageMagick is not installed (apt-get install imagemagick)",
            "OCR",
        );
        return None;
    };
    if !Path::new(docfix::DEJAVU).exists() {
        common::server_missing(
            "the DejaVu font is missing (apt-get install fonts-dejavu-core)",
            "OCR",
        );
        return None;
    }
    Some(magick)
}

fn squash(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

fn cache_files(t: &TestHome) -> Vec<PathBuf> {
    match std::fs::read_dir(t.file("ocr-cache")) {
        Ok(d) => d.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn show(t: &TestHome, p: &Path) -> String {
    let out = t.run(&["docs", "show", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn images_and_scanned_pdfs_are_read_by_tesseract_and_cached_0600() {
    let Some(magick) = ready() else { return };
    let t = TestHome::new();
    t.init_if_missing();
    let docs = t.user_home.join("Documents");
    std::fs::create_dir_all(&docs).unwrap();
    let png = docs.join("passport.png");
    let known = "PASSPORT NUMBER X1234567";
    assert!(docfix::text_png(magick, &png, known));
    let work = t.user_home.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let lease_png = work.join("lease.png");
    assert!(docfix::text_png(
        magick,
        &lease_png,
        "LEASE ENDS 31 MAY 2027"
    ));
    assert!(docfix::scanned_pdf(
        magick,
        &lease_png,
        &docs.join("lease-scan.pdf"),
        ScanImage::Jpeg
    ));
    let policy_png = work.join("policy.png");
    assert!(docfix::text_png(
        magick,
        &policy_png,
        "INSURANCE POLICY 77ABC"
    ));
    assert!(docfix::scanned_pdf(
        magick,
        &policy_png,
        &docs.join("policy-scan.pdf"),
        ScanImage::FlateGray
    ));
    std::fs::write(docs.join("notes.md"), "# Notes\n\nDentist on Tuesday.\n").unwrap();

    let out = t.run(&["docs", "index", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["ocr"], true, "{report}");
    assert_eq!(
        (report["indexed"].as_u64(), report["listed"].as_u64()),
        (Some(4), Some(0)),
        "{report}"
    );

    let read = squash(&show(&t, &png));
    let distance = docfix::edit_distance(&read, known);
    assert!(
        distance <= 3,
        "OCR read {read:?} for {known:?} (distance {distance})"
    );
    let lease = squash(&show(&t, &docs.join("lease-scan.pdf")));
    assert!(
        docfix::edit_distance(&lease, "LEASE ENDS 31 MAY 2027") <= 3,
        "{lease:?}"
    );
    let policy = squash(&show(&t, &docs.join("policy-scan.pdf")));
    assert!(
        docfix::edit_distance(&policy, "INSURANCE POLICY 77ABC") <= 3,
        "{policy:?}"
    );

    // Search finds each.
    for (q, file) in [
        ("passport", "passport.png"),
        ("lease", "lease-scan.pdf"),
        ("insurance", "policy-scan.pdf"),
        ("dentist", "notes.md"),
    ] {
        let out = t.run(&["docs", "search", q, "--json"]);
        let hits = json(&out);
        assert!(
            hits[0]["path"].as_str().unwrap().ends_with(file),
            "{q}: {hits}"
        );
    }

    // One cache file per OCR'd file, 0600 in a 0700 folder.
    let cached = cache_files(&t);
    assert_eq!(cached.len(), 3, "{cached:?}");
    for f in &cached {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&t.file("ocr-cache")), 0o700);

    // A changed image is read again, once.
    assert!(docfix::text_png(
        magick,
        &png,
        "PASSPORT NUMBER Y7654321 RENEWED"
    ));
    let report = json(&t.run(&["docs", "index", "--json"]));
    assert_eq!(
        (report["indexed"].as_u64(), report["unchanged"].as_u64()),
        (Some(1), Some(3)),
        "{report}"
    );
    assert_eq!(cache_files(&t).len(), 4);
    assert!(squash(&show(&t, &png)).contains("Y7654321"));
    let report = json(&t.run(&["docs", "index", "--json"]));
    assert_eq!(report["indexed"], 0, "{report}");
}
