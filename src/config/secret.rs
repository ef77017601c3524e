//! Secrets in configuration are references, never values.
//!
//! `env:NAME`, `file:PATH` and `keychain:NAME` name where the secret lives; a bare
//! string is refused at parse time so a pasted key never sits in `steward.yaml`.
//! A resolved [`Secret`] never prints its value through `Debug` or `Display`.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set (or is empty); export it before starting steward")]
    EnvMissing(String),
    #[error("cannot read secret file {path}: {source}; create it (mode 0600) or fix the path")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret file {0} is empty; write the secret into it")]
    FileEmpty(PathBuf),
    #[error(
        "keychain item {name:?} could not be read ({detail}); add it with `security add-generic-password -s {name} -a steward -w`"
    )]
    Keychain { name: String, detail: String },
}

/// Where a secret lives.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
    Keychain(String),
}

impl fmt::Debug for SecretRef {
    // The reference is not secret, but print it in the form the owner wrote.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({self})")
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Keychain(name) => write!(f, "keychain:{name}"),
        }
    }
}

impl std::str::FromStr for SecretRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = s.split_once(':').unwrap_or(("", ""));
        let rest = rest.trim();
        match kind {
            "env" if !rest.is_empty() => Ok(SecretRef::Env(rest.to_string())),
            "file" if !rest.is_empty() => Ok(SecretRef::File(PathBuf::from(rest))),
            "keychain" if !rest.is_empty() => Ok(SecretRef::Keychain(rest.to_string())),
            // Never echo the value: it may be the secret itself.
            _ => Err(
                "a secret must be a reference (env:NAME, file:PATH or keychain:NAME), \
                      never the secret itself"
                    .to_string(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

impl SecretRef {
    /// The command or edit that makes this reference resolve; `key` names where
    /// it sits in steward.yaml (e.g. `http.apiToken`).
    pub fn fix(&self, key: &str) -> String {
        match self {
            SecretRef::Env(name) => {
                format!("set the variable {name} or change {key} in steward.yaml")
            }
            SecretRef::File(path) => format!(
                "write the secret into {0} (then `chmod 600 {0}`) or change {key} in steward.yaml",
                path.display()
            ),
            SecretRef::Keychain(name) => format!(
                "`security add-generic-password -s {name} -a steward -w`, or change {key} in steward.yaml"
            ),
        }
    }

    /// Read the secret now. Values are trimmed of surrounding whitespace.
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(Secret)
                .ok_or_else(|| SecretError::EnvMissing(name.clone())),
            SecretRef::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                })?;
                let value = text.trim();
                if value.is_empty() {
                    return Err(SecretError::FileEmpty(path.clone()));
                }
                Ok(Secret(value.to_string()))
            }
            SecretRef::Keychain(name) => keychain(name),
        }
    }
}

#[cfg(target_os = "macos")]
fn keychain(name: &str) -> Result<Secret, SecretError> {
    let out = std::process::Command::new("/usr/bin/security")
        .args(["find-generic-password", "-s", name, "-w"])
        .output()
        .map_err(|e| SecretError::Keychain {
            name: name.to_string(),
            detail: e.to_string(),
        })?;
    let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || value.is_empty() {
        return Err(SecretError::Keychain {
            name: name.to_string(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(Secret(value))
}

#[cfg(not(target_os = "macos"))]
fn keychain(name: &str) -> Result<Secret, SecretError> {
    Err(SecretError::Keychain {
        name: name.to_string(),
        detail: "the keychain exists only on macOS; use env: or file: here".to_string(),
    })
}

/// A resolved secret value. `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_inline_values_do_not() {
        assert_eq!("env:X".parse::<SecretRef>(), Ok(SecretRef::Env("X".into())));
        assert_eq!(
            "file:/k".parse::<SecretRef>(),
            Ok(SecretRef::File("/k".into()))
        );
        let err = "sk-live-1234".parse::<SecretRef>().unwrap_err();
        assert!(
            !err.contains("sk-live"),
            "the value must not be echoed: {err}"
        );
        assert!("env:".parse::<SecretRef>().is_err());
    }

    #[test]
    fn resolved_secrets_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "hunter2\n").unwrap();
        let secret = SecretRef::File(path).resolve().unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
    }

    #[test]
    fn missing_sources_say_what_to_do() {
        let err = SecretRef::Env("STEWARD_TEST_SURELY_UNSET_VAR".into())
            .resolve()
            .unwrap_err();
        assert!(err.to_string().contains("export it"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "  \n").unwrap();
        assert!(matches!(
            SecretRef::File(empty).resolve(),
            Err(SecretError::FileEmpty(_))
        ));
    }
}
