//! One TLS crypto provider for the whole binary: rustls with *ring*.
//!
//! whatsapp-rust's transport and teloxide's reqwest 0.12 are built on ring, so
//! ring is linked whatever we choose; linking aws-lc-rs beside it for lettre,
//! IMAP and our reqwest cost about 2 MB of binary and a C build (issue 19:
//! "prefer one TLS stack with one crypto provider"). Our reqwest is built with
//! `rustls-no-provider`, which takes the process default, so every client is
//! built through [`http_client`], which installs ring first.

use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::crypto::CryptoProvider;

/// The crypto provider every TLS connection Steward makes uses.
pub fn provider() -> Arc<CryptoProvider> {
    install();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// A reqwest client builder whose TLS uses [`provider`].
pub fn http_client() -> reqwest::ClientBuilder {
    install();
    reqwest::Client::builder()
}

/// Installs ring as the process default once. Losing the race to another
/// installer is fine: the only provider linked is ring.
fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
