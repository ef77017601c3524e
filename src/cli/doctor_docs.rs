//! `doctor`'s documents check (issue 17): which roots exist, how much is
//! indexed, and whether images are read (the `ocr` feature) or only listed.

use super::doctor::{Check, Level};
use crate::config::Config;
use crate::home::Home;

const NAME: &str = "documents";
const ENABLE_OCR: &str = "build with OCR: `cargo install --path . --features ocr` (needs Tesseract: Debian `tesseract-ocr-eng libtesseract-dev libleptonica-dev clang libclang-dev pkg-config`, macOS `brew install tesseract`)";

pub fn check_documents(home: &Home, config: Option<&Config>) -> Check {
    let Some(config) = config else {
        return Check::ok(NAME, "skipped (config invalid)");
    };
    let roots = crate::home::user_home()
        .map(|h| config.documents.root_paths(&h))
        .unwrap_or_default();
    let found = roots.iter().filter(|r| r.is_dir()).count();
    // Images listed without text: what OCR would read.
    let (indexed, unread) = crate::store::open_readonly(&home.db_path())
        .ok()
        .and_then(|c| {
            c.query_row(
                "SELECT count(*), count(*) FILTER (WHERE readable = 0) FROM documents",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .ok()
        })
        .unwrap_or((0, 0));
    let ocr = if cfg!(feature = "ocr") {
        "OCR on".to_string()
    } else {
        format!("OCR off: images are listed but not read; to read them, {ENABLE_OCR}")
    };
    let detail = format!(
        "{found} of {} roots found, {indexed} documents indexed; {ocr}",
        roots.len()
    );
    if !cfg!(feature = "ocr") && unread > 0 {
        return Check::bad(
            NAME,
            Level::Warn,
            format!("{unread} images or scans are listed without their text; {detail}"),
            ENABLE_OCR,
        );
    }
    Check::ok(NAME, detail)
}
