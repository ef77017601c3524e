//! Ed25519 receipts in the Lantern-compatible format: `{payload, signature,
//! algorithm}` where the signature (base64) is over the canonical payload.
//! `verify` needs only the receipt and the public key, so anyone can check a
//! run offline; `verify_stored` also checks it against the journal and chain.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical;

pub const ALGORITHM: &str = "ed25519";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub payload: Value,
    pub signature: String,
    pub algorithm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("algorithm {0:?} is not supported (only ed25519)")]
    Algorithm(String),
    #[error("the signature is not valid base64 of 64 bytes")]
    SignatureFormat,
    #[error("the public key is not valid base64 of 32 bytes")]
    KeyFormat,
    #[error("signature mismatch: the payload was changed or another key signed it")]
    Mismatch,
    #[error("journalHash does not match the run's journal (the journal was changed)")]
    Journal,
    #[error("the audit entry named by auditSeq/auditHash is missing or changed")]
    Audit,
    #[error("{0}")]
    Approval(String),
}

pub fn sign(key: &SigningKey, payload: Value) -> Receipt {
    let canonical = canonical::to_string(&payload);
    let signature = key.sign(canonical.as_bytes());
    Receipt {
        payload,
        signature: B64.encode(signature.to_bytes()),
        algorithm: ALGORITHM.to_string(),
    }
}

pub fn public_key_b64(key: &VerifyingKey) -> String {
    B64.encode(key.to_bytes())
}

pub fn parse_public_key(b64: &str) -> Result<VerifyingKey, ReceiptError> {
    let bytes = B64
        .decode(b64.trim())
        .map_err(|_| ReceiptError::KeyFormat)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| ReceiptError::KeyFormat)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| ReceiptError::KeyFormat)
}

/// Offline check: the signature over the canonical payload under `key`.
pub fn verify(receipt: &Receipt, key: &VerifyingKey) -> Result<(), ReceiptError> {
    if !receipt.algorithm.eq_ignore_ascii_case(ALGORITHM) {
        return Err(ReceiptError::Algorithm(receipt.algorithm.clone()));
    }
    let sig = B64
        .decode(receipt.signature.trim())
        .map_err(|_| ReceiptError::SignatureFormat)?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| ReceiptError::SignatureFormat)?;
    let canonical = canonical::to_string(&receipt.payload);
    key.verify(canonical.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| ReceiptError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signs_and_verifies_with_only_the_public_key() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let receipt = sign(&key, json!({"runId": "r", "costUsd": 0.5, "version": 1}));
        let public = parse_public_key(&public_key_b64(&key.verifying_key())).unwrap();
        assert_eq!(verify(&receipt, &public), Ok(()));

        let mut changed = receipt.clone();
        changed.payload["costUsd"] = json!(0.0);
        assert_eq!(verify(&changed, &public), Err(ReceiptError::Mismatch));

        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert_eq!(verify(&receipt, &other), Err(ReceiptError::Mismatch));

        let mut algo = receipt;
        algo.algorithm = "hmac-sha256".into();
        assert!(matches!(
            verify(&algo, &public),
            Err(ReceiptError::Algorithm(_))
        ));
    }
}
