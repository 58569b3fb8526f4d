//! TLS settings ([`TlsConfig`]) and the TLS handshake, with rustls and its
//! `ring` provider. The connection itself (one TLS session under both
//! directions) is in `wire`.
//!
//! What is checked, and when:
//! - at `connect()`, before any thread starts: every file is read and
//!   parsed (missing, unreadable, not PEM: [`TlsError::File`],
//!   [`TlsError::NotPem`]), and rustls accepts the CA and the identity;
//! - at every connection, the server's certificate against the CA and the
//!   server name (default: the host being connected to, so each host of a
//!   multi-host string is checked under its own name). Nothing turns
//!   verification off.

use crate::error::TlsError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a [`crate::ClientBuilder`] connects over TLS: the CA to trust, and
/// optionally a client certificate (mutual TLS) and the name to check the
/// servers' certificates against.
///
/// The builders only record paths and cannot fail; `connect()` reads the
/// files and fails with [`crate::Error::Tls`] if one is missing,
/// unreadable or not PEM.
///
/// ```no_run
/// use zklock::{Client, TlsConfig};
/// # fn main() -> zklock::Result<()> {
/// let client = Client::builder("zk1:2281,zk2:2281,zk3:2281/app")
///     .tls(
///         TlsConfig::new("/etc/zk/ca.pem")
///             .client_identity("/etc/zk/client.pem", "/etc/zk/client-key.pem"),
///     )
///     .connect()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    ca: PathBuf,
    identity: Option<(PathBuf, PathBuf)>,
    server_name: Option<String>,
}

impl TlsConfig {
    /// Trusts the CA certificates in the PEM file `ca_pem_path` (a bundle
    /// may hold several), and nothing else: the system's roots are not used.
    pub fn new(ca_pem_path: impl AsRef<Path>) -> TlsConfig {
        TlsConfig {
            ca: ca_pem_path.as_ref().to_path_buf(),
            identity: None,
            server_name: None,
        }
    }

    /// Presents this certificate chain (PEM, leaf first) and its private
    /// key (PEM: PKCS#8, PKCS#1 or SEC1) to servers that ask for one
    /// (`ssl.clientAuth=need|want`). The server then knows the client by
    /// the certificate's subject: an `x509` ACL names it.
    pub fn client_identity(
        mut self,
        cert_pem_path: impl AsRef<Path>,
        key_pem_path: impl AsRef<Path>,
    ) -> TlsConfig {
        self.identity = Some((
            cert_pem_path.as_ref().to_path_buf(),
            key_pem_path.as_ref().to_path_buf(),
        ));
        self
    }

    /// Checks every server's certificate against `name` instead of the host
    /// of the connect string it was reached by (servers behind addresses
    /// that are not in their certificates, with one shared name).
    pub fn server_name(mut self, name: &str) -> TlsConfig {
        self.server_name = Some(name.to_string());
        self
    }

    /// Reads the files and builds what every connection uses.
    pub(crate) fn load(&self) -> Result<TlsSetup, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in certificates(&self.ca)? {
            roots.add(cert).map_err(|e| TlsError::Config {
                reason: format!("{}: {e}", self.ca.display()),
            })?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(config_error)?
            .with_root_certificates(roots);
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert)?;
                let key = private_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(config_error)?
            }
        };
        if let Some(name) = &self.server_name {
            ServerName::try_from(name.as_str()).map_err(|e| TlsError::Config {
                reason: format!("server name {name:?}: {e}"),
            })?;
        }
        Ok(TlsSetup {
            config: Arc::new(config),
            server_name: self.server_name.clone(),
        })
    }
}

fn config_error(e: rustls::Error) -> TlsError {
    TlsError::Config {
        reason: e.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(|c| c.ok())
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NotPem {
            path: path.display().to_string(),
            what: "certificate",
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::NotPem {
        path: path.display().to_string(),
        what: "private key",
    })
}

/// The loaded settings: shared by every connection of a client.
#[derive(Clone)]
pub(crate) struct TlsSetup {
    config: Arc<rustls::ClientConfig>,
    server_name: Option<String>,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsSetup {
    /// Runs the TLS handshake on a fresh TCP connection to `host`, giving
    /// up at `deadline`.
    pub(crate) fn handshake(
        &self,
        tcp: &TcpStream,
        host: &str,
        at: &str,
        deadline: Instant,
    ) -> Result<rustls::ClientConnection, HandshakeError> {
        let name_text = self.server_name.as_deref().unwrap_or(host);
        // An IPv6 host is written without brackets here.
        let name = ServerName::try_from(name_text.to_string()).map_err(|e| {
            HandshakeError::Tls(TlsError::Config {
                reason: format!("server name {name_text:?}: {e}"),
            })
        })?;
        let mut conn = rustls::ClientConnection::new(self.config.clone(), name)
            .map_err(|e| HandshakeError::Tls(config_error(e)))?;
        let mut sock = tcp;
        while conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HandshakeError::Io("TLS handshake: no reply in time".into()));
            }
            let _ = tcp.set_read_timeout(Some(left));
            match conn.complete_io(&mut sock) {
                Ok(_) => {}
                Err(e) => {
                    return Err(classify(at, name_text, &e));
                }
            }
        }
        Ok(conn)
    }
}

/// Why a TLS handshake failed.
pub(crate) enum HandshakeError {
    /// For a reason retrying will not fix: a certificate, a refusal, a
    /// server that does not speak TLS.
    Tls(TlsError),
    /// The network: no reply in time, a reset. Retried like any failed
    /// connection.
    Io(String),
}

/// Names the cause of a failed handshake.
fn classify(at: &str, name: &str, e: &std::io::Error) -> HandshakeError {
    use std::io::ErrorKind as K;
    let host = at.to_string();
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return match e.kind() {
            // Hung up on a ClientHello: a plaintext ZooKeeper port reads it
            // as an impossible frame length and closes.
            K::UnexpectedEof => HandshakeError::Tls(TlsError::NotTls { host }),
            K::WouldBlock | K::TimedOut => {
                HandshakeError::Io("TLS handshake: no reply in time".into())
            }
            _ => HandshakeError::Io(format!("TLS handshake: {e}")),
        };
    };
    HandshakeError::Tls(tls_error(host, name, tls))
}

/// Maps rustls's error to ours.
pub(crate) fn tls_error(host: String, name: &str, e: &rustls::Error) -> TlsError {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature | C::UnknownRevocationStatus => {
                TlsError::UntrustedCertificate { host }
            }
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => TlsError::CertificateExpired { host },
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsError::NameMismatch {
                host,
                server_name: name.to_string(),
            },
            other => TlsError::BadCertificate {
                host,
                reason: format!("{other:?}"),
            },
        },
        rustls::Error::AlertReceived(alert) => TlsError::Refused {
            host,
            alert: format!("{alert:?}"),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            TlsError::NotTls { host }
        }
        other => TlsError::Handshake {
            host,
            reason: other.to_string(),
        },
    }
}

/// Whether the server behind `tcp` (a fresh connection to `host`)
/// answers a TLS ClientHello with a TLS handshake record: asked only after
/// a plaintext handshake was cut off, to tell "a TLS port" from "a server
/// not serving yet". Gives up at `deadline`.
pub(crate) fn speaks_tls(mut tcp: TcpStream, host: &str, deadline: Instant) -> bool {
    let Ok(config) = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions() else {
        return false;
    };
    let config = config
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let Ok(name) =
        ServerName::try_from(host.to_string()).or_else(|_| ServerName::try_from("zookeeper"))
    else {
        return false;
    };
    let Ok(mut conn) = rustls::ClientConnection::new(Arc::new(config), name) else {
        return false;
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = tcp.set_read_timeout(Some(left.max(Duration::from_millis(10))));
    if conn.write_tls(&mut tcp).is_err() {
        return false;
    }
    let mut first = [0u8; 1];
    matches!(std::io::Read::read(&mut tcp, &mut first), Ok(1) if first[0] == 0x16)
}
