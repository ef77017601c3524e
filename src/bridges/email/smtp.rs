//! SMTP: one reply, built and handed to the account's server with lettre
//! (implicit TLS, STARTTLS, or plain on loopback only), and the Sent copy
//! appended over IMAP. The Message-ID comes from the step key, so the same
//! send always carries the same id: that is what lets a restart find it.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};

use crate::config::{EmailAccount, MailAuth, MailSecurity, MailServer};

/// How long one SMTP conversation may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error(
        "account {account} has no smtp server; add bridges.email.accounts[].smtp to send replies"
    )]
    NoServer { account: String },
    #[error(
        "account {account}: refusing to send the password in clear to {host}; use security: tls or starttls"
    )]
    Cleartext { account: String, host: String },
    #[error("account {account}: the password reference failed: {source}")]
    Secret {
        account: String,
        source: crate::config::SecretError,
    },
    #[error("account {account}: cannot use {path} as a CA file: {detail}")]
    Ca {
        account: String,
        path: String,
        detail: String,
    },
    #[error("account {account}: the reply could not be built: {detail}")]
    Build { account: String, detail: String },
    /// The server answered no (4xx/5xx), or we never got as far as DATA:
    /// the mail was certainly not accepted.
    #[error("account {account}: the SMTP server refused the mail: {detail}")]
    Refused { account: String, detail: String },
    /// The conversation broke off or timed out: the server may have accepted it.
    #[error(
        "account {account}: the SMTP conversation with {host} broke off ({detail}); the mail may or may not have been accepted"
    )]
    Uncertain {
        account: String,
        host: String,
        detail: String,
    },
}

/// A reply to build: who, what, and the thread it belongs to.
#[derive(Debug, Clone)]
pub struct Reply {
    pub to: String,
    pub subject: String,
    pub in_reply_to: Option<String>,
    /// Message-IDs of the thread so far, oldest first (without brackets).
    pub references: Vec<String>,
    pub text: String,
}

/// `Re: ` once: "Friday" → "Re: Friday", "RE: Friday" stays as it is.
pub fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    if s.len() >= 3 && s[..3].eq_ignore_ascii_case("re:") {
        s.to_string()
    } else if s.is_empty() {
        "Re: (no subject)".to_string()
    } else {
        format!("Re: {s}")
    }
}

/// The Message-ID for a step key: the same key always names the same mail.
pub fn message_id(key: &str, from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map_or("steward.invalid", |(_, d)| d)
        .trim_end_matches('>');
    let hash = hex::encode(&Sha256::digest(key.as_bytes())[..12]);
    format!("steward.{hash}@{domain}")
}

/// The whole RFC 5322 message for `reply`, sent from `account`.
pub fn build(
    account: &EmailAccount,
    owner_name: Option<&str>,
    message_id: &str,
    reply: &Reply,
) -> Result<Message, SmtpError> {
    let bad = |detail: String| SmtpError::Build {
        account: account.name.clone(),
        detail,
    };
    let from = Mailbox::new(
        owner_name.map(str::to_string),
        account.address.parse().map_err(|e| bad(format!("{e}")))?,
    );
    let to: Mailbox = reply
        .to
        .parse()
        .map_err(|e| bad(format!("{}: {e}", reply.to)))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(match reply.in_reply_to {
            Some(_) => reply_subject(&reply.subject),
            None => reply.subject.trim().to_string(),
        })
        .message_id(Some(format!("<{message_id}>")))
        .date_now();
    if let Some(parent) = &reply.in_reply_to {
        b = b.in_reply_to(format!("<{parent}>"));
    }
    let refs: Vec<String> = reply
        .references
        .iter()
        .chain(reply.in_reply_to.iter())
        .fold(Vec::new(), |mut acc, id| {
            if !acc.contains(id) {
                acc.push(id.clone());
            }
            acc
        });
    if !refs.is_empty() {
        let joined = refs
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(" ");
        b = b.references(joined);
    }
    b.header(ContentType::TEXT_PLAIN)
        .body(reply.text.clone())
        .map_err(|e| bad(e.to_string()))
}

fn tls_parameters(account: &EmailAccount, server: &MailServer) -> Result<TlsParameters, SmtpError> {
    let ca_err = |path: &std::path::Path, detail: String| SmtpError::Ca {
        account: account.name.clone(),
        path: path.display().to_string(),
        detail,
    };
    let mut b = TlsParameters::builder(server.host.clone());
    if let Some(path) = &server.ca_file {
        let pem = std::fs::read(path).map_err(|e| ca_err(path, e.to_string()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| ca_err(path, e.to_string()))?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| SmtpError::Refused {
        account: account.name.clone(),
        detail: format!("TLS setup: {e}"),
    })
}

/// A transport for the account's SMTP server.
pub fn transport(account: &EmailAccount) -> Result<AsyncSmtpTransport<Tokio1Executor>, SmtpError> {
    let server = account.smtp.as_ref().ok_or_else(|| SmtpError::NoServer {
        account: account.name.clone(),
    })?;
    let tls = match server.security {
        MailSecurity::None if !super::imap::is_loopback(&server.host) => {
            return Err(SmtpError::Cleartext {
                account: account.name.clone(),
                host: server.host.clone(),
            });
        }
        MailSecurity::None => Tls::None,
        MailSecurity::Tls => Tls::Wrapper(tls_parameters(account, server)?),
        MailSecurity::Starttls => Tls::Required(tls_parameters(account, server)?),
    };
    let password = account
        .password
        .resolve()
        .map_err(|source| SmtpError::Secret {
            account: account.name.clone(),
            source,
        })?;
    let user = account.login();
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
            .port(server.port)
            .tls(tls)
            .timeout(Some(TIMEOUT))
            .credentials(Credentials::new(user, password.expose().to_string()))
            .authentication(match account.auth {
                // lettre tries these in order against what the server offers.
                MailAuth::Password => vec![Mechanism::Plain, Mechanism::Login],
                MailAuth::Xoauth2 => vec![Mechanism::Xoauth2],
            })
            .build(),
    )
}

/// What to do about a refused login, by how the account logs in.
fn login_fix(account: &EmailAccount) -> &'static str {
    match account.auth {
        MailAuth::Password => {
            "the login was refused: check the password reference (an app password for Gmail/Outlook)"
        }
        MailAuth::Xoauth2 => {
            "the OAuth2 token was refused: refresh the access token that `password` names (they expire after about an hour)"
        }
    }
}

/// Hand `message` to the account's server; returns when it answered.
///
/// The connection (TCP, TLS, EHLO, AUTH) is opened first on its own, so any
/// failure up to there is a certain no; the pool then hands that connection
/// to the send, where only the server's answer is certain either way.
pub async fn send(account: &EmailAccount, message: &Message) -> Result<(), SmtpError> {
    let transport = transport(account)?;
    let refused = |detail: String| SmtpError::Refused {
        account: account.name.clone(),
        detail,
    };
    match transport.test_connection().await {
        Ok(true) => {}
        Ok(false) => return Err(refused("the server closed the connection".into())),
        Err(e) if e.is_tls() || e.to_string().contains("certificate") => {
            return Err(refused(format!(
                "{e} (for a server with its own certificate authority, set caFile)"
            )));
        }
        Err(e) if e.status().is_some_and(|c| c.to_string() == "535") => {
            return Err(refused(format!("{e} ({})", login_fix(account))));
        }
        Err(e) => return Err(refused(e.to_string())),
    }
    let sent = transport.send(message.clone()).await;
    transport.shutdown().await;
    sent.map(|_| ()).map_err(|e| {
        if e.is_response() || e.is_transient() || e.is_permanent() || e.is_client() {
            refused(e.to_string())
        } else {
            SmtpError::Uncertain {
                account: account.name.clone(),
                host: account
                    .smtp
                    .as_ref()
                    .map(|s| s.host.clone())
                    .unwrap_or_default(),
                detail: e.to_string(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_is_added_once() {
        assert_eq!(reply_subject("Friday"), "Re: Friday");
        assert_eq!(reply_subject("RE: Friday"), "RE: Friday");
        assert_eq!(reply_subject("re:Friday"), "re:Friday");
        assert_eq!(reply_subject("  "), "Re: (no subject)");
    }

    #[test]
    fn the_same_key_names_the_same_mail() {
        let a = message_id("run1:0:1", "me@example.com");
        assert_eq!(a, message_id("run1:0:1", "me@example.com"));
        assert_ne!(a, message_id("run1:0:2", "me@example.com"));
        assert!(a.ends_with("@example.com"), "{a}");
    }
}
