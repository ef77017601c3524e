//! The prompt templates (MiniJinja), one per model role: `prompts/<name>.md`
//! shipped in the binary, `<home>/prompts/<name>.md` overriding it. An
//! override is read at every render, so an edit applies to the next model
//! call without a restart. An override that does not compile or render is
//! refused with its file and line (logged once per version) and the shipped
//! template is used instead.
//!
//! What a template can say is only what its caller hands it: the contact
//! assistant's variables never include the owner's private facts, so an
//! override cannot put them in a contact's prompt. Contact text arrives as a
//! variable and is never evaluated as template code.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::assets::{self, Folder, Origin};

/// The templates a shipped role reads.
pub const CONTACT_ASSISTANT: &str = "contact-assistant";
pub const CHIEF_OF_STAFF: &str = "chief-of-staff";

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("no prompt template called {0:?}: `steward prompts` lists them")]
    Unknown(String),
    #[error("{file}:{line}: {detail}; fix the template or delete it to use the shipped one")]
    Invalid {
        file: String,
        line: usize,
        detail: String,
    },
}

/// The templates, with the home whose overrides win (none: shipped only).
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    home: Option<PathBuf>,
    /// Overrides already reported as broken (by file and text), so a broken
    /// file logs once, not at every draft.
    warned: Arc<Mutex<HashSet<(PathBuf, u64)>>>,
}

/// A `key: value` line of a template's list (facts).
#[derive(Debug, Serialize)]
pub struct KeyValue<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

/// One template as `steward prompts` shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptInfo {
    pub name: String,
    /// `shipped`, or `home` (an override).
    pub origin: &'static str,
    pub path: Option<PathBuf>,
    /// Why an override is not used, with its file and line.
    pub error: Option<String>,
}

impl Prompts {
    /// Templates with `home`'s overrides.
    pub fn new(home: &Path) -> Prompts {
        Prompts {
            home: Some(home.to_path_buf()),
            ..Prompts::default()
        }
    }

    /// Render `name` with `vars`. A broken override falls back to the shipped template.
    pub fn render(&self, name: &str, vars: &impl Serialize) -> Result<String, PromptError> {
        let shipped = shipped(name)?;
        if let Some((path, text)) = self.override_of(name) {
            match render(&path.display().to_string(), &text, vars) {
                Ok(out) => return Ok(out),
                Err(e) => self.warn_once(&path, &text, &e),
            }
        }
        render(&format!("prompts/{}", file(name)), shipped, vars)
    }

    /// The effective text of `name` and where it comes from.
    pub fn show(&self, name: &str) -> Result<(PromptInfo, String), PromptError> {
        let shipped = shipped(name)?;
        let info = self.info(name);
        let text = match (&info.origin, self.override_of(name)) {
            (&"home", Some((_, text))) => text,
            _ => shipped.to_string(),
        };
        Ok((info, text))
    }

    /// Every shipped template, each with its override's state.
    pub fn list(&self) -> Vec<PromptInfo> {
        names().iter().map(|n| self.info(n)).collect()
    }

    fn info(&self, name: &str) -> PromptInfo {
        match self.override_of(name) {
            None => PromptInfo {
                name: name.to_string(),
                origin: "shipped",
                path: None,
                error: None,
            },
            Some((path, text)) => {
                let error = check(&path.display().to_string(), &text)
                    .err()
                    .map(|e| e.to_string());
                PromptInfo {
                    name: name.to_string(),
                    origin: if error.is_some() { "shipped" } else { "home" },
                    path: Some(path),
                    error,
                }
            }
        }
    }

    fn override_of(&self, name: &str) -> Option<(PathBuf, String)> {
        let home = self.home.as_deref()?;
        match assets::load(home, Folder::Prompts, &file(name)) {
            Ok(Some(a)) => match a.origin {
                Origin::Home(path) => Some((path, a.text.into_owned())),
                Origin::Shipped => None,
            },
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "a prompt override cannot be read; using the shipped one");
                None
            }
        }
    }

    fn warn_once(&self, path: &Path, text: &str, e: &PromptError) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let key = (path.to_path_buf(), h.finish());
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.insert(key) {
            tracing::warn!(error = %e, "a prompt override was refused; the shipped template is used");
        }
    }
}

fn file(name: &str) -> String {
    format!("{name}.md")
}

/// The shipped template names (every `.md` in `prompts/` but the README).
pub fn names() -> Vec<String> {
    let mut out: Vec<String> = assets::list(Path::new("/nonexistent"), Folder::Prompts)
        .into_iter()
        .filter(|f| f != "README.md")
        .filter_map(|f| f.strip_suffix(".md").map(str::to_string))
        .collect();
    out.sort();
    out
}

fn shipped(name: &str) -> Result<&'static str, PromptError> {
    assets::shipped(Folder::Prompts, &file(name)).ok_or_else(|| PromptError::Unknown(name.into()))
}

/// Prompts are plain text: no HTML escaping; blocks eat their own line; an
/// unknown variable is an error (a typo in an override must not silently
/// drop a rule).
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

fn invalid(file: &str, e: &minijinja::Error) -> PromptError {
    PromptError::Invalid {
        file: file.to_string(),
        line: e.line().unwrap_or(0),
        detail: e.detail().unwrap_or(&e.kind().to_string()).to_string(),
    }
}

fn check(file: &str, text: &str) -> Result<(), PromptError> {
    environment()
        .template_from_named_str(file, text)
        .map(|_| ())
        .map_err(|e| invalid(file, &e))
}

fn render(file: &str, text: &str, vars: &impl Serialize) -> Result<String, PromptError> {
    let env = environment();
    let tmpl = env
        .template_from_named_str(file, text)
        .map_err(|e| invalid(file, &e))?;
    tmpl.render(minijinja::value::Value::from(minijinja::value::Serde(vars)))
        .map_err(|e| invalid(file, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_text_is_data_not_template_code() {
        let out = render(
            "t",
            "said: {{ message }}\n",
            &serde_json::json!({"message": "{{ 7 * 7 }} {% if true %}x{% endif %}"}),
        )
        .unwrap();
        assert_eq!(out, "said: {{ 7 * 7 }} {% if true %}x{% endif %}\n");
    }

    #[test]
    fn a_broken_override_names_file_and_line_and_the_shipped_one_is_used() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("prompts")).unwrap();
        let path = home.path().join("prompts/chief-of-staff.md");
        std::fs::write(&path, "line one\n{% if %}\n").unwrap();
        let p = Prompts::new(home.path());
        let info = p
            .list()
            .into_iter()
            .find(|i| i.name == CHIEF_OF_STAFF)
            .unwrap();
        let err = info.error.unwrap();
        assert!(err.contains("chief-of-staff.md:2:"), "{err}");
        assert_eq!(info.origin, "shipped");
        assert!(matches!(
            p.render("nope", &serde_json::json!({})),
            Err(PromptError::Unknown(_))
        ));
    }

    #[test]
    fn every_shipped_template_compiles() {
        assert!(names().contains(&CONTACT_ASSISTANT.to_string()));
        assert!(names().contains(&CHIEF_OF_STAFF.to_string()));
        for n in names() {
            check(&n, shipped(&n).unwrap()).unwrap();
        }
    }
}
