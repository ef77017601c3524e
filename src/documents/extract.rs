//! One file into text. Every failure is a [`Skip`] (counted, logged once per
//! kind by the indexer), never a panic or an error that stops the pass: the
//! PDF parser runs under `catch_unwind` because a hostile file must not take
//! the daemon down.

use std::fs::Metadata;
use std::io::Read;
use std::path::Path;

use super::{Documents, Kind, Skip};

/// What was read from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub body: String,
    pub pages: Option<u32>,
    /// False for a file listed but not read (an image without the `ocr` feature).
    pub readable: bool,
}

/// Read `path` (a real path under a root) as `kind`.
pub fn extract(
    docs: &Documents,
    path: &Path,
    kind: Kind,
    meta: &Metadata,
) -> Result<Extracted, Skip> {
    if meta.len() > docs.max_bytes {
        return Err(Skip::TooLarge);
    }
    match kind {
        Kind::Text | Kind::Markdown => text(path, docs.max_bytes),
        Kind::Pdf => pdf(docs, path, meta),
        Kind::Image => match docs.ocr.enabled() {
            true => Ok(Extracted {
                body: docs.ocr.image(path, meta)?,
                pages: Some(1),
                readable: true,
            }),
            false => Ok(listed(Some(1))),
        },
    }
}

fn listed(pages: Option<u32>) -> Extracted {
    Extracted {
        body: String::new(),
        pages,
        readable: false,
    }
}

fn io_skip(e: &std::io::Error) -> Skip {
    match e.kind() {
        std::io::ErrorKind::NotFound => Skip::Vanished,
        _ => Skip::Unreadable,
    }
}

/// Read at most `limit` bytes: the size was checked, but a file may grow.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, Skip> {
    let file = std::fs::File::open(path).map_err(|e| io_skip(&e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_skip(&e))?;
    if bytes.len() as u64 > limit {
        return Err(Skip::TooLarge);
    }
    Ok(bytes)
}

fn text(path: &Path, limit: u64) -> Result<Extracted, Skip> {
    let bytes = read_capped(path, limit)?;
    // A NUL never occurs in text; a lot of invalid UTF-8 means another encoding
    // at best and a renamed binary at worst.
    if bytes.contains(&0) {
        return Err(Skip::Binary);
    }
    let body = String::from_utf8_lossy(&bytes);
    let bad = body.chars().filter(|&c| c == '\u{FFFD}').count();
    if bad * 20 > body.chars().count().max(1) {
        return Err(Skip::Binary);
    }
    Ok(Extracted {
        body: body.into_owned(),
        pages: None,
        readable: true,
    })
}

fn pdf(docs: &Documents, path: &Path, meta: &Metadata) -> Result<Extracted, Skip> {
    let bytes = read_capped(path, docs.max_bytes)?;
    if !bytes.starts_with(b"%PDF") {
        return Err(Skip::Corrupt);
    }
    let parsed = std::panic::catch_unwind(|| parse_pdf(&bytes));
    let (doc, body) = match parsed {
        Ok(r) => r?,
        Err(_) => return Err(Skip::Corrupt),
    };
    let pages = doc.get_pages().len() as u32;
    if !body.trim().is_empty() {
        return Ok(Extracted {
            body: tidy(&body),
            pages: Some(pages),
            readable: true,
        });
    }
    // No text layer: a scan. Its page images go through OCR when built in.
    if !docs.ocr.enabled() {
        return Ok(listed(Some(pages)));
    }
    Ok(Extracted {
        body: docs.ocr.pdf(path, meta, &doc)?,
        pages: Some(pages),
        readable: true,
    })
}

fn parse_pdf(bytes: &[u8]) -> Result<(lopdf::Document, String), Skip> {
    let mut doc = match lopdf::Document::load_mem(bytes) {
        Ok(d) => d,
        Err(lopdf::Error::Decryption(_) | lopdf::Error::UnsupportedSecurityHandler(_)) => {
            return Err(Skip::Encrypted);
        }
        Err(_) => return Err(Skip::Corrupt),
    };
    if doc.is_encrypted() {
        // Readable without a password (an owner password only): lopdf decrypts
        // with the empty one; anything else needs the owner.
        if doc.decrypt("").is_err() {
            return Err(Skip::Encrypted);
        }
    }
    let mut body = String::new();
    {
        let mut out = pdf_extract::PlainTextOutput::new(&mut body);
        if pdf_extract::output_doc(&doc, &mut out).is_err() {
            return Err(Skip::Corrupt);
        }
    }
    Ok((doc, body))
}

/// Collapse the runs of blank lines and spaces PDF layout leaves behind.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DocumentsConfig;

    fn docs(dir: &Path) -> Documents {
        let cfg = DocumentsConfig {
            roots: vec![dir.display().to_string()],
            ..Default::default()
        };
        Documents::new(&cfg, dir, dir.join("ocr-cache"))
    }

    #[test]
    fn a_file_deleted_before_it_is_read_is_vanished_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gone.txt");
        std::fs::write(&p, "soon gone").unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        std::fs::remove_file(&p).unwrap();
        let d = docs(dir.path());
        assert_eq!(extract(&d, &p, Kind::Text, &meta), Err(Skip::Vanished));
        assert_eq!(extract(&d, &p, Kind::Pdf, &meta), Err(Skip::Vanished));
    }

    #[test]
    fn text_with_nuls_or_mostly_invalid_utf8_is_binary_and_latin1_text_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = docs(dir.path());
        let bin = dir.path().join("a.txt");
        std::fs::write(&bin, [0xff, 0xfe, 0xfd, 0xfc, b'a', 0xfb, 0xfa]).unwrap();
        let meta = std::fs::metadata(&bin).unwrap();
        assert_eq!(extract(&d, &bin, Kind::Text, &meta), Err(Skip::Binary));
        let latin = dir.path().join("b.txt");
        std::fs::write(&latin, b"caf\xe9 receipt for the dentist, paid in full").unwrap();
        let meta = std::fs::metadata(&latin).unwrap();
        let got = extract(&d, &latin, Kind::Text, &meta).unwrap();
        assert!(got.body.contains("receipt for the dentist"));
    }

    #[test]
    fn a_file_that_grew_past_the_limit_after_listing_is_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grows.txt");
        std::fs::write(&p, "x").unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        std::fs::write(&p, vec![b'y'; 2048]).unwrap();
        assert_eq!(read_capped(&p, 1024), Err(Skip::TooLarge));
        let mut d = docs(dir.path());
        d.max_bytes = 1024;
        assert_eq!(extract(&d, &p, Kind::Text, &meta), Err(Skip::TooLarge));
    }

    #[test]
    fn pdf_layout_whitespace_is_tidied() {
        assert_eq!(tidy("  a   b \n\n\n\n c\n"), "a b\n\nc");
    }
}
