//! The two secrets `init` creates: the Ed25519 receipt key and the HTTP api-token.
//!
//! The receipt key file holds the 32-byte seed in hex (the same encoding the
//! Lantern runtime takes for its seed), so one offline verifier serves both.
//! Both files are created once and never replaced: a new receipt key would make
//! every earlier receipt unverifiable against the published key.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

/// Minimum api-token length (hex characters) accepted by the HTTP server.
pub const MIN_TOKEN_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the system random source failed ({0}); Steward will not create keys without it")]
    Random(String),
    #[error("cannot read {path}: {source}; run `steward init` to create it")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a 32-byte Ed25519 seed in hex; restore it from backup (a new key would orphan every earlier receipt)"
    )]
    BadSeed { path: PathBuf },
    #[error(
        "{path} holds no usable api-token (need at least {MIN_TOKEN_LEN} characters); delete it and run `steward init`"
    )]
    BadToken { path: PathBuf },
}

fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(buf)
}

/// The text of a new receipt key file: a fresh 32-byte seed in hex. The keys
/// sit below the home, so `Home::init` writes it (create-only, 0600, never
/// replacing: a new key would orphan every earlier receipt), not this module.
pub fn new_receipt_key_text() -> Result<String, KeyError> {
    let seed = random_bytes::<32>()?;
    Ok(format!("{}\n", hex::encode(seed)))
}

/// The text of a new api-token file, written by `Home::init` as the key is.
pub fn new_api_token_text() -> Result<String, KeyError> {
    Ok(format!("{}\n", hex::encode(random_bytes::<32>()?)))
}

/// Load the receipt signing key.
pub fn load_receipt_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = || KeyError::BadSeed {
        path: path.to_path_buf(),
    };
    let bytes = hex::decode(text.trim()).map_err(|_| bad())?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
    Ok(SigningKey::from_bytes(&seed))
}

/// `keyFingerprint`: hex of the first 8 bytes of SHA-256(public key).
pub fn fingerprint(key: &SigningKey) -> String {
    let digest = Sha256::digest(key.verifying_key().to_bytes());
    hex::encode(&digest[..8])
}

/// The api-token, trimmed. Shorter than [`MIN_TOKEN_LEN`] is an error, so a
/// truncated or emptied file can never mean "no token needed".
pub fn load_api_token(path: &Path) -> Result<String, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim();
    if token.len() < MIN_TOKEN_LEN {
        return Err(KeyError::BadToken {
            path: path.to_path_buf(),
        });
    }
    Ok(token.to_string())
}

/// Compare two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, Verifier};

    #[test]
    fn receipt_key_round_trips_and_signs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("receipt.ed25519");
        fs::write(&path, new_receipt_key_text().unwrap()).unwrap();
        let key = load_receipt_key(&path).unwrap();
        let sig = key.sign(b"payload");
        assert!(key.verifying_key().verify(b"payload", &sig).is_ok());
        assert_eq!(fingerprint(&key).len(), 16);
        assert_ne!(
            new_receipt_key_text().unwrap(),
            fs::read_to_string(&path).unwrap()
        );
    }

    #[test]
    fn damaged_secrets_are_errors_not_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        fs::write(&seed, "abcd\n").unwrap();
        assert!(matches!(
            load_receipt_key(&seed),
            Err(KeyError::BadSeed { .. })
        ));
        let token = dir.path().join("token");
        fs::write(&token, "\n").unwrap();
        assert!(matches!(
            load_api_token(&token),
            Err(KeyError::BadToken { .. })
        ));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
