//! OCR of images and scanned PDF pages through Tesseract (cargo feature
//! `ocr`, linking the system library through `tesseract-rs`), and the cache
//! that makes a file OCR'd once per version.
//!
//! Cache: `<home>/ocr-cache/<sha256(path|size|mtime)>.txt`, 0600 in a 0700
//! folder. A changed file has a new key, so it is read again exactly once.
//! Without the feature nothing here reads a file: images are listed only.

use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Skip;

#[derive(Debug, Clone)]
pub struct Ocr {
    cache: PathBuf,
}

impl Ocr {
    pub fn new(cache: PathBuf) -> Ocr {
        Ocr { cache }
    }

    /// Whether this binary was built with the `ocr` feature.
    pub fn enabled(&self) -> bool {
        cfg!(feature = "ocr")
    }

    /// Where the text of `path` in this version (size, mtime) is cached.
    pub fn cache_path(&self, path: &Path, meta: &Metadata) -> PathBuf {
        let key = format!(
            "{}|{}|{}",
            path.display(),
            meta.len(),
            meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
        );
        self.cache.join(format!(
            "{}.txt",
            crate::canonical::sha256_hex(key.as_bytes())
        ))
    }

    fn cached(
        &self,
        path: &Path,
        meta: &Metadata,
        read: impl FnOnce() -> Result<String, Skip>,
    ) -> Result<String, Skip> {
        let at = self.cache_path(path, meta);
        if let Ok(text) = std::fs::read_to_string(&at) {
            return Ok(text);
        }
        let text = read()?;
        if let Err(e) = self.store(&at, &text) {
            tracing::warn!("cannot write the OCR cache {}: {e}", at.display());
        }
        Ok(text)
    }

    /// Write whole (temp file + rename) so a reader never sees half a text.
    fn store(&self, at: &Path, text: &str) -> std::io::Result<()> {
        crate::home::ensure_private_dir(&self.cache).map_err(std::io::Error::other)?;
        let tmp = at.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, at)
    }

    /// The text of an image file.
    pub fn image(&self, path: &Path, meta: &Metadata) -> Result<String, Skip> {
        self.cached(path, meta, || engine::file(path))
    }

    /// The text of a PDF without a text layer: its page images, in page order.
    pub fn pdf(&self, path: &Path, meta: &Metadata, doc: &lopdf::Document) -> Result<String, Skip> {
        self.cached(path, meta, || {
            let mut text = String::new();
            for page in doc.get_pages().values() {
                let images = doc.get_page_images(*page).map_err(|_| Skip::Corrupt)?;
                for image in images {
                    let file = page_image(doc, &image, &self.cache)?;
                    let read = engine::file(file.path());
                    text.push_str(read?.trim());
                    text.push('\n');
                }
            }
            Ok(text.trim().to_string())
        })
    }
}

/// One page image as a file Tesseract (leptonica) can open: a JPEG stream as
/// it is, raw 8-bit gray or RGB samples as a PNM. Written 0600 in the cache
/// folder and deleted when the handle drops.
fn page_image(
    doc: &lopdf::Document,
    image: &lopdf::xobject::PdfImage,
    dir: &Path,
) -> Result<TempImage, Skip> {
    let filters = image.filters.clone().unwrap_or_default();
    let (bytes, ext): (Vec<u8>, &str) = if filters.iter().any(|f| f == "DCTDecode") {
        (image.content.to_vec(), "jpg")
    } else {
        // lopdf undoes Flate and its PNG predictors; other filters are not scans we read.
        let raw = if filters.is_empty() {
            image.content.to_vec()
        } else if filters.iter().all(|f| f == "FlateDecode") {
            doc.get_object(image.id)
                .and_then(|o| o.as_stream())
                .and_then(|s| s.decompressed_content())
                .map_err(|_| Skip::Corrupt)?
        } else {
            return Err(Skip::OcrFailed);
        };
        let channels = match image.color_space.as_deref() {
            Some("DeviceGray") => 1,
            Some("DeviceRGB") => 3,
            _ => return Err(Skip::OcrFailed),
        };
        if image.bits_per_component != Some(8) {
            return Err(Skip::OcrFailed);
        }
        let (w, h) = (image.width as usize, image.height as usize);
        if raw.len() < w * h * channels {
            return Err(Skip::Corrupt);
        }
        let magic = if channels == 1 { "P5" } else { "P6" };
        let mut pnm = format!("{magic}\n{w} {h}\n255\n").into_bytes();
        pnm.extend_from_slice(&raw[..w * h * channels]);
        (pnm, "pnm")
    };
    crate::home::ensure_private_dir(dir).map_err(|_| Skip::OcrFailed)?;
    let path = dir.join(format!(
        "page-{}-{}.{ext}",
        std::process::id(),
        crate::canonical::sha256_hex(&bytes)
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|_| Skip::OcrFailed)?;
    f.write_all(&bytes).map_err(|_| Skip::OcrFailed)?;
    Ok(TempImage(path))
}

struct TempImage(PathBuf);

impl TempImage {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(feature = "ocr")]
mod engine {
    use std::cell::RefCell;
    use std::path::Path;

    use tesseract_rs::TesseractAPI;

    use super::Skip;

    thread_local! {
        // Loading the English model takes ~0.2 s: once per thread, not per image.
        static API: RefCell<Option<TesseractAPI>> = const { RefCell::new(None) };
    }

    /// Tesseract's data folder: `TESSDATA_PREFIX` if set, else the library's default.
    fn datapath() -> String {
        std::env::var("TESSDATA_PREFIX").unwrap_or_default()
    }

    pub fn file(path: &Path) -> Result<String, Skip> {
        let name = path.to_str().ok_or(Skip::OcrFailed)?;
        API.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                let api = TesseractAPI::new();
                if let Err(e) = api.init(datapath(), "eng") {
                    tracing::warn!(
                        "Tesseract did not start ({e}); is tesseract-ocr-eng installed?"
                    );
                    return Err(Skip::OcrFailed);
                }
                *slot = Some(api);
            }
            let api = slot.as_ref().ok_or(Skip::OcrFailed)?;
            api.process_pages(name, None, 0)
                .map_err(|_| Skip::OcrFailed)
        })
    }
}

#[cfg(not(feature = "ocr"))]
mod engine {
    use std::path::Path;

    use super::Skip;

    /// Never called: `Ocr::enabled` is false without the feature.
    pub fn file(_path: &Path) -> Result<String, Skip> {
        Err(Skip::OcrFailed)
    }
}
