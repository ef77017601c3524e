//! Reading an account over IMAP (async-imap on tokio): each folder is synced
//! from its cursor (UIDVALIDITY + last UID, stored in the same transaction as
//! the mails it covers), then the reader waits in IDLE (re-issued before the
//! 29-minute limit) or, on a server without IDLE, polls. A dropped connection
//! reconnects with backoff and jitter; a UIDVALIDITY change re-reads the folder
//! and Message-IDs keep it free of duplicates.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::TryStreamExt;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::ingest::{EmailIngest, Source};
use super::mime;
use crate::config::{EmailAccount, MailAuth, MailSecurity};
use crate::store::Store;
use crate::types::Inbound;

/// IDLE is re-issued before servers drop it (RFC 2177 allows 30 minutes).
pub const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// Mails fetched and stored per transaction.
const BATCH: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error(
        "cannot reach {host}:{port} for account {account}: {source}; check bridges.email.accounts[].imap"
    )]
    Connect {
        account: String,
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error(
        "account {account}: the server refused the login for {user}; check the password reference (an app password for Gmail/Outlook)"
    )]
    Login { account: String, user: String },
    #[error(
        "account {account}: the server refused the OAuth2 token for {user}; refresh the access token that `password` names (they expire after about an hour) or check `user`"
    )]
    Token { account: String, user: String },
    #[error("account {account}: the password reference failed: {source}")]
    Secret {
        account: String,
        source: crate::config::SecretError,
    },
    #[error(
        "account {account}: refusing to send the password in clear to {host}; use security: tls"
    )]
    Cleartext { account: String, host: String },
    #[error(
        "account {account}: the server refused STARTTLS; use security: tls with its implicit-TLS port (993)"
    )]
    Starttls { account: String },
    #[error("account {account}: TLS to {host} failed: {detail}")]
    Tls {
        account: String,
        host: String,
        detail: String,
    },
    #[error("account {account}: IMAP error: {source}")]
    Protocol {
        account: String,
        source: async_imap::error::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A plain or TLS connection, one type for async-imap.
pub struct Conn(Pin<Box<dyn Io>>);

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.0.as_mut().poll_shutdown(cx)
    }
}

pub type Session = async_imap::Session<Conn>;

pub(super) fn protocol(
    account: &EmailAccount,
) -> impl Fn(async_imap::error::Error) -> ImapError + '_ {
    move |source| ImapError::Protocol {
        account: account.name.clone(),
        source,
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Connect, read the greeting and log in.
pub async fn connect(account: &EmailAccount) -> Result<Session, ImapError> {
    let server = &account.imap;
    if server.security == MailSecurity::None && !is_loopback(&server.host) {
        return Err(ImapError::Cleartext {
            account: account.name.clone(),
            host: server.host.clone(),
        });
    }
    let tcp = TcpStream::connect((server.host.as_str(), server.port))
        .await
        .map_err(|source| ImapError::Connect {
            account: account.name.clone(),
            host: server.host.clone(),
            port: server.port,
            source,
        })?;
    let client = match server.security {
        MailSecurity::None => greeted(account, Conn(Box::pin(tcp))).await?,
        MailSecurity::Tls => greeted(account, Conn(Box::pin(tls(account, tcp).await?))).await?,
        MailSecurity::Starttls => {
            let mut plain = greeted(account, tcp).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|_| ImapError::Starttls {
                    account: account.name.clone(),
                })?;
            // No greeting after STARTTLS: the session goes on over TLS.
            async_imap::Client::new(Conn(Box::pin(tls(account, plain.into_inner()).await?)))
        }
    };
    let password = account
        .password
        .resolve()
        .map_err(|source| ImapError::Secret {
            account: account.name.clone(),
            source,
        })?;
    let user = account.login();
    match account.auth {
        MailAuth::Password => {
            client
                .login(&user, password.expose())
                .await
                .map_err(|_| ImapError::Login {
                    account: account.name.clone(),
                    user,
                })
        }
        MailAuth::Xoauth2 => {
            let sasl = Xoauth2 {
                response: Some(xoauth2(&user, password.expose())),
            };
            client
                .authenticate("XOAUTH2", sasl)
                .await
                .map_err(|_| ImapError::Token {
                    account: account.name.clone(),
                    user,
                })
        }
    }
}

/// The XOAUTH2 initial response (Google's and Microsoft's SASL profile).
pub(crate) fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// Answers the first challenge with the token; a second challenge is the
/// server's error detail, answered empty so it ends with NO.
struct Xoauth2 {
    response: Option<String>,
}

impl async_imap::Authenticator for Xoauth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

/// A client on `stream` that has read the server's greeting (some servers
/// hang a command sent before it).
async fn greeted<T>(account: &EmailAccount, stream: T) -> Result<async_imap::Client<T>, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    client
        .read_response()
        .await
        .map_err(|e| protocol(account)(e.into()))?;
    Ok(client)
}

async fn tls(
    account: &EmailAccount,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let err = |detail: String| ImapError::Tls {
        account: account.name.clone(),
        host: account.imap.host.clone(),
        detail,
    };
    let config = tls_config(account).map_err(err)?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(account.imap.host.clone())
        .map_err(|e| err(e.to_string()))?;
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| err(e.to_string()))
}

/// The system's roots, plus the account's `caFile` for a self-hosted server.
fn tls_config(account: &EmailAccount) -> Result<tokio_rustls::rustls::ClientConfig, String> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut extra = Vec::new();
    if let Some(path) = &account.imap.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("caFile {}: {e}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            extra.push(cert.map_err(|e| format!("caFile {}: {e}", path.display()))?);
        }
    }
    let provider = crate::tls::provider();
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
            .map_err(|e| e.to_string())?;
    Ok(
        tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
            .with_no_client_auth(),
    )
}

/// `(uid_validity, last_uid)` stored for a folder.
pub fn cursor(
    conn: &Connection,
    account: &str,
    folder: &str,
) -> rusqlite::Result<Option<(u32, u32)>> {
    conn.query_row(
        "SELECT uid_validity, last_uid FROM email_cursors WHERE account = ?1 AND folder = ?2",
        params![account, folder],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub(super) fn set_cursor(
    conn: &Connection,
    account: &str,
    folder: &str,
    validity: u32,
    uid: u32,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO email_cursors (account, folder, uid_validity, last_uid, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (account, folder) DO UPDATE SET uid_validity = excluded.uid_validity,
             last_uid = excluded.last_uid, updated_at = excluded.updated_at",
        params![account, folder, validity, uid, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

/// Read every mail of `folder` past the cursor into memory; returns the new
/// ones (none on a folder's first read: that is its history).
pub async fn sync_folder(
    session: &mut Session,
    account: &EmailAccount,
    folder: &str,
    store: &Store,
    ingest: &std::sync::Arc<std::sync::Mutex<EmailIngest>>,
) -> Result<Vec<Inbound>, ImapError> {
    let mailbox = session.select(folder).await.map_err(protocol(account))?;
    let validity = mailbox.uid_validity.unwrap_or(0);
    let (name, f) = (account.name.clone(), folder.to_string());
    let stored = store.read(move |c| Ok(cursor(c, &name, &f)?)).await?;
    // A folder never read before is history: stored, not published, so
    // nothing acts on years of old mail (a UIDVALIDITY change re-reads known mail).
    let history = stored.is_none();
    let mut last = match stored {
        Some((v, uid)) if v == validity => uid,
        Some(_) => {
            tracing::info!(account = %account.name, folder, "UIDVALIDITY changed; re-reading the folder (Message-IDs keep it free of duplicates)");
            0
        }
        None => 0,
    };
    let mut new = Vec::new();
    loop {
        let range = format!("{}:{}", last + 1, last + BATCH);
        let fetched: Vec<_> = session
            .uid_fetch(&range, "(UID RFC822)")
            .await
            .map_err(protocol(account))?
            .try_collect()
            .await
            .map_err(protocol(account))?;
        // `n:*` style ranges return the last mail even when it is below n; keep only new UIDs.
        let mut mails: Vec<(u32, Vec<u8>)> = fetched
            .iter()
            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
            .filter(|(uid, _)| *uid > last)
            .collect();
        mails.sort_by_key(|(uid, _)| *uid);
        let upto = mails.last().map(|(uid, _)| *uid);
        let more = last + BATCH < mailbox.uid_next.unwrap_or(u32::MAX).saturating_sub(1);
        let (name, f, ing) = (account.name.clone(), folder.to_string(), ingest.clone());
        let cursor_to = upto
            .unwrap_or(last)
            .max(if more { last + BATCH } else { last });
        let got = store
            .write(move |c| {
                let tx = c.transaction()?;
                let mut ing = ing.lock().unwrap_or_else(|p| p.into_inner());
                ing.people_changed(&tx)?;
                let src = Source { account: &name, folder: &f };
                let mut out = Vec::new();
                for (_, raw) in &mails {
                    match mime::parse(raw) {
                        Ok(mail) => out.extend(ing.mail(&tx, src, &mail)?),
                        Err(e) => {
                            tracing::warn!(account = %name, folder = %f, error = %e, "a mail was skipped");
                            ing.skip();
                        }
                    }
                }
                crate::memory::messages::index_new(&tx)?;
                // The cursor moves in the transaction that stored what it covers.
                set_cursor(&tx, &name, &f, validity, cursor_to)?;
                tx.commit()?;
                Ok(out)
            })
            .await?;
        if !history {
            new.extend(got);
        }
        last = cursor_to;
        if !more {
            return Ok(new);
        }
    }
}

/// The longest wait between reconnects.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Keep `folder` of `account` in memory until `stop`: sync, then IDLE (or poll),
/// publishing each new mail on `bus`; reconnect with backoff and jitter.
pub async fn watch(
    account: EmailAccount,
    folder: String,
    store: Store,
    ingest: std::sync::Arc<std::sync::Mutex<EmailIngest>>,
    bus: tokio::sync::broadcast::Sender<Inbound>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let run = follow(
            &account,
            &folder,
            &store,
            &ingest,
            &bus,
            &mut stop,
            &mut backoff,
        );
        match run.await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(account = %account.name, %folder, error = %e, "mail reader disconnected; reconnecting")
            }
        }
        let jitter = Duration::from_millis(u64::from(
            jiff::Timestamp::now().subsec_nanosecond().unsigned_abs() % 1000,
        ));
        tokio::select! {
            _ = tokio::time::sleep(backoff + jitter) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life: `Ok` when stopped, `Err` when it broke.
async fn follow(
    account: &EmailAccount,
    folder: &str,
    store: &Store,
    ingest: &std::sync::Arc<std::sync::Mutex<EmailIngest>>,
    bus: &tokio::sync::broadcast::Sender<Inbound>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    backoff: &mut Duration,
) -> Result<(), ImapError> {
    let mut session = connect(account).await?;
    let idle = session
        .capabilities()
        .await
        .map_err(protocol(account))?
        .has_str("IDLE");
    if !idle {
        tracing::info!(account = %account.name, folder, poll_seconds = account.poll_seconds, "the server has no IDLE; polling");
    }
    loop {
        for m in sync_folder(&mut session, account, folder, store, ingest).await? {
            let _ = bus.send(m);
        }
        *backoff = Duration::from_secs(1);
        if !idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(account.poll_seconds)) => continue,
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
        }
        let mut handle = session.idle();
        handle.init().await.map_err(protocol(account))?;
        {
            let (wait, _interrupt) = handle.wait_with_timeout(IDLE_RENEW);
            tokio::select! {
                r = wait => { r.map_err(protocol(account))?; }
                _ = stop.wait_for(|s| *s) => return Ok(()),
            }
        }
        session = handle.done().await.map_err(protocol(account))?;
    }
}

/// For `doctor`: connect, log in, and whether the server offers IDLE.
pub async fn probe(account: &EmailAccount) -> Result<bool, ImapError> {
    let mut session = tokio::time::timeout(Duration::from_secs(10), connect(account))
        .await
        .map_err(|_| ImapError::Connect {
            account: account.name.clone(),
            host: account.imap.host.clone(),
            port: account.imap.port,
            source: std::io::ErrorKind::TimedOut.into(),
        })??;
    let idle = session
        .capabilities()
        .await
        .map_err(protocol(account))?
        .has_str("IDLE");
    let _ = session.logout().await;
    Ok(idle)
}
