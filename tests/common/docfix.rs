//! Document fixtures made in the test (never committed binaries): a text
//! PDF and an encrypted one with lopdf, an image-only PDF and a PNG with
//! ImageMagick and the DejaVu font.

use std::path::Path;
use std::process::Command;

use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};

/// A one-page PDF whose text layer holds `lines`.
pub fn text_pdf_doc(lines: &[&str]) -> Document {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut ops = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 14.into()]),
        Operation::new("Td", vec![72.into(), 720.into()]),
        Operation::new("TL", vec![18.into()]),
    ];
    for line in lines {
        ops.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
        ops.push(Operation::new("T*", vec![]));
    }
    ops.push(Operation::new("ET", vec![]));
    let content = Content { operations: ops };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set(
        "ID",
        Object::Array(vec![
            Object::string_literal(b"0123456789abcdef".to_vec()),
            Object::string_literal(b"0123456789abcdef".to_vec()),
        ]),
    );
    doc
}

pub fn text_pdf(path: &Path, lines: &[&str]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    text_pdf_doc(lines).save(path).unwrap();
}

/// The same PDF behind a user password (RC4, 128-bit).
pub fn encrypted_pdf(path: &Path, lines: &[&str]) {
    let mut doc = text_pdf_doc(lines);
    let version = lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password: "user-secret",
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    };
    let state = lopdf::EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    doc.save(path).unwrap();
}

/// ImageMagick's command (`magick` on 7, `convert` on 6), if it works.
pub fn magick() -> Option<&'static str> {
    ["magick", "convert"].into_iter().find(|m| {
        Command::new(m).arg("-version").output().is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("ImageMagick")
        })
    })
}

pub const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// A PNG of `text` in black DejaVu Sans on white, at 300 dpi-like size.
pub fn text_png(magick: &str, path: &Path, text: &str) -> bool {
    Command::new(magick)
        .args([
            "-size",
            "1800x300",
            "xc:white",
            "-font",
            DEJAVU,
            "-pointsize",
            "64",
            "-fill",
            "black",
        ])
        .args(["-annotate", "+60+180", text])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// How a scan's page image is stored in the PDF.
#[derive(Clone, Copy)]
pub enum ScanImage {
    /// A JPEG stream (`/DCTDecode`), as most scanners write.
    Jpeg,
    /// Raw 8-bit gray samples, Flate-compressed.
    FlateGray,
}

/// An image-only PDF (a "scan") of the PNG at `png`: ImageMagick makes the
/// JPEG or the gray samples (Debian's ImageMagick policy forbids writing PDF
/// itself), lopdf wraps them as the page's only content.
pub fn scanned_pdf(magick: &str, png: &Path, pdf: &Path, how: ScanImage) -> bool {
    let Some((w, h)) = image_size(magick, png) else {
        return false;
    };
    let tmp = pdf.with_extension(match how {
        ScanImage::Jpeg => "jpg",
        ScanImage::FlateGray => "gray",
    });
    let target = match how {
        ScanImage::Jpeg => tmp.display().to_string(),
        ScanImage::FlateGray => format!("gray:{}", tmp.display()),
    };
    let ok = Command::new(magick)
        .arg(png)
        .args(["-depth", "8", "-quality", "95"])
        .arg(&target)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return false;
    }
    let bytes = std::fs::read(&tmp).unwrap();
    std::fs::remove_file(&tmp).unwrap();
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut image = match how {
        ScanImage::Jpeg => Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "DCTDecode" },
            bytes,
        ),
        ScanImage::FlateGray => Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8 },
            bytes,
        ),
    };
    if matches!(how, ScanImage::FlateGray) {
        image.compress().unwrap();
    }
    let image_id = doc.add_object(image);
    let draw = format!("q {w} 0 0 {h} 0 0 cm /Im1 Do Q");
    let content_id = doc.add_object(Stream::new(dictionary! {}, draw.into_bytes()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image_id } },
        "MediaBox" => vec![0.into(), 0.into(), w.into(), h.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 },
        ),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.save(pdf).is_ok()
}

fn image_size(magick: &str, png: &Path) -> Option<(i64, i64)> {
    let identify = if magick == "magick" {
        vec!["magick", "identify"]
    } else {
        vec!["identify"]
    };
    let out = Command::new(identify[0])
        .args(&identify[1..])
        .args(["-format", "%w %h"])
        .arg(png)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (w, h) = text.trim().split_once(' ')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

/// Levenshtein distance, for OCR output against the known text.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
