//! The loopback test server behind `STEWARD_WHATSAPP_WIRE` (see
//! src/bridges/whatsapp/linked/wire.rs): it plays WhatsApp for a real daemon
//! or a `steward whatsapp link` process. JSON lines on 127.0.0.1 only; it
//! records sends and typing, and pushes events down the one live stream.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Default)]
struct Shared {
    live: Option<TcpStream>,
    scripts: VecDeque<Vec<Value>>,
    connects: Vec<Value>,
    sent: Vec<(String, String)>,
    typing: Vec<(String, bool)>,
    logouts: usize,
}

#[derive(Clone)]
pub struct WaWire {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl WaWire {
    pub fn start() -> WaWire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        WaWire { addr, shared }
    }

    /// The events the next connection starts with.
    pub fn script(&self, events: Vec<Value>) {
        self.shared.lock().unwrap().scripts.push_back(events);
    }

    /// Push an event down the live stream (waits for one to exist).
    pub fn emit(&self, event: Value) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(live) = self.shared.lock().unwrap().live.as_mut()
                && live.write_all(format!("{event}\n").as_bytes()).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no live WhatsApp stream to emit on"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn sent(&self) -> Vec<(String, String)> {
        self.shared.lock().unwrap().sent.clone()
    }

    pub fn typing(&self) -> Vec<(String, bool)> {
        self.shared.lock().unwrap().typing.clone()
    }

    pub fn connects(&self) -> Vec<Value> {
        self.shared.lock().unwrap().connects.clone()
    }

    pub fn logouts(&self) -> usize {
        self.shared.lock().unwrap().logouts
    }
}

fn serve(conn: TcpStream, shared: &Mutex<Shared>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let Ok(req) = serde_json::from_str::<Value>(&line) else {
        return;
    };
    let mut s = shared.lock().unwrap();
    let answer = match req["op"].as_str().unwrap_or_default() {
        "connect" => {
            s.connects.push(req["link"].clone());
            let mut live = conn;
            for e in s.scripts.pop_front().unwrap_or_default() {
                let _ = live.write_all(format!("{e}\n").as_bytes());
            }
            // A new connection replaces the old one.
            if let Some(old) = s.live.replace(live) {
                let _ = old.shutdown(std::net::Shutdown::Both);
            }
            return;
        }
        "send" => {
            let to = req["to"].as_str().unwrap_or_default().to_string();
            s.sent
                .push((to, req["text"].as_str().unwrap_or_default().into()));
            json!({ "id": format!("3EB0WIRE{:04}", s.sent.len()) })
        }
        "typing" => {
            let to = req["to"].as_str().unwrap_or_default().to_string();
            s.typing.push((to, req["on"] == true));
            json!({ "ok": true })
        }
        "logout" => {
            s.logouts += 1;
            json!({ "ok": true })
        }
        "disconnect" => {
            if let Some(old) = s.live.take() {
                let _ = old.shutdown(std::net::Shutdown::Both);
            }
            json!({ "ok": true })
        }
        _ => json!({ "ok": true }),
    };
    drop(s);
    let mut conn = conn;
    let _ = conn.write_all(format!("{answer}\n").as_bytes());
}

/// The terminal text back into modules, then through a QR reader.
pub fn decode_qr(screen: &str) -> String {
    let rows: Vec<Vec<char>> = screen
        .lines()
        .filter(|l| l.chars().any(|c| matches!(c, '█' | '▀' | '▄')))
        .map(|l| l.chars().collect())
        .collect();
    let width = rows.iter().map(Vec::len).max().unwrap();
    // Each character is two modules high; light modules are drawn.
    let mut light = vec![vec![false; width]; rows.len() * 2];
    for (y, row) in rows.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            let (up, down) = match c {
                '█' => (true, true),
                '▀' => (true, false),
                '▄' => (false, true),
                _ => (false, false),
            };
            light[2 * y][x] = up;
            light[2 * y + 1][x] = down;
        }
    }
    const SCALE: usize = 4;
    let (w, h) = (width * SCALE, light.len() * SCALE);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        if light[y / SCALE][x / SCALE] { 255 } else { 0 }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in:\n{screen}");
    grids[0].decode().expect("the QR decodes").1
}

/// The dashboard's inline SVG QR (the `qrcode` crate's writer: one `<path>`
/// of dark rectangles `M{x} {y}h{w}v{h}H{x}V{y}` on a light square, sized by
/// `viewBox`) rasterised at one pixel per unit, then through a QR reader.
pub fn decode_svg_qr(html: &str) -> String {
    let svg = &html[html.find("<svg").expect("an <svg> in the page")..];
    let svg = &svg[..svg.find("</svg>").expect("a closed <svg>")];
    let attr = |name: &str| -> &str {
        let at = svg
            .find(&format!(" {name}=\""))
            .unwrap_or_else(|| panic!("{name} in {svg}"));
        svg[at + name.len() + 3..].split('"').next().unwrap()
    };
    let view: Vec<usize> = attr("viewBox")
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let (w, h) = (view[2], view[3]);
    let mut dark = vec![false; w * h];
    for rect in attr("d").split('M').filter(|r| !r.is_empty()) {
        // "x yhwvhHxVy": the numbers, in that order.
        let n: Vec<usize> = rect
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ')
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().unwrap())
            .collect();
        let (x, y, rw, rh) = (n[0], n[1], n[2], n[3]);
        for yy in y..y + rh {
            for xx in x..x + rw {
                dark[yy * w + xx] = true;
            }
        }
    }
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(
            w,
            h,
            |x, y| {
                if dark[y * w + x] { 0 } else { 255 }
            },
        );
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the SVG");
    grids[0].decode().expect("the QR decodes").1
}
