//! The pairing QR in a terminal: two modules per character cell with the
//! half blocks `▀ ▄ █`. Light modules are drawn and dark ones left as the
//! background, which suits a dark terminal (the common case) and is what
//! WhatsApp's scanner reads; a quiet zone of light modules frames it. And the
//! same code as inline SVG for the dashboard (dark on light, the spec's quiet
//! zone of 4), drawn by the `qrcode` crate's own SVG writer.

use qrcode::{Color, QrCode};

/// Light modules around the code (the QR spec's quiet zone is 4; 2 scans
/// from a screen and keeps the code small enough for an 80×24 terminal).
const QUIET: usize = 2;

#[derive(Debug, thiserror::Error)]
#[error(
    "the pairing code does not fit a QR code ({0}); run `steward whatsapp link --phone +NUMBER` for an 8-character code instead"
)]
pub struct QrError(String);

/// `payload` as terminal text, one line per two module rows.
pub fn render(payload: &str) -> Result<String, QrError> {
    let code = QrCode::new(payload.as_bytes()).map_err(|e| QrError(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 2 * QUIET;
    // Light (true) or dark at (x, y) of the framed square.
    let light = |x: usize, y: usize| -> bool {
        if x < QUIET || y < QUIET || x >= width + QUIET || y >= width + QUIET {
            return true;
        }
        colors[(y - QUIET) * width + (x - QUIET)] == Color::Light
    };
    let mut out = String::with_capacity(size * size / 2 * 3 + size);
    for y in (0..size).step_by(2) {
        for x in 0..size {
            let upper = light(x, y);
            let lower = y + 1 >= size || light(x, y + 1);
            out.push(match (upper, lower) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    Ok(out)
}

/// `payload` as an inline `<svg>` element (no XML prolog), at least `px` wide.
pub fn svg(payload: &str, px: u32) -> Result<String, QrError> {
    let code = QrCode::new(payload.as_bytes()).map_err(|e| QrError(e.to_string()))?;
    let drawn = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(px, px)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    // The writer starts with `<?xml …?>`, which has no place inside HTML.
    Ok(match drawn.find("<svg") {
        Some(at) => drawn[at..].to_string(),
        None => drawn,
    })
}
