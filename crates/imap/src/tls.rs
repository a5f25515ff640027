//! TLS: the trust anchors, the handshake, and rustls' failures in words.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{ImapError, TlsFailure};

/// The certificates trusted for servers: the system's roots plus any extra
/// CA given. Cheap to clone.
#[derive(Clone)]
pub struct TlsTrust {
    config: Arc<ClientConfig>,
}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsTrust")
    }
}

impl TlsTrust {
    /// System roots (a missing or empty system store is fine when extra CAs
    /// are given) plus the PEM CA certificates in `extra_ca_pem`.
    pub fn new(extra_ca_pem: Option<&[u8]>) -> Result<TlsTrust, ImapError> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
        if let Some(pem) = extra_ca_pem {
            let mut count = 0usize;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| ImapError::CaFile {
                    reason: format!("the PEM data cannot be read: {e}"),
                })?;
                roots.add(cert).map_err(|e| ImapError::CaFile {
                    reason: format!("a certificate cannot be used as a trust anchor: {e}"),
                })?;
                count += 1;
            }
            if count == 0 {
                return Err(ImapError::CaFile {
                    reason: "no \"BEGIN CERTIFICATE\" block was found in the PEM data".to_owned(),
                });
            }
        }
        if roots.is_empty() {
            return Err(ImapError::CaFile {
                reason: "this machine's system certificate store is empty or missing, and no CA \
                         was given (give one with --ca-file)"
                    .to_owned(),
            });
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ImapError::CaFile {
                reason: format!("TLS cannot be set up: {e}"),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsTrust {
            config: Arc::new(config),
        })
    }

    /// Runs the client handshake over `tcp` for `host`, within `timeout`.
    pub(crate) async fn handshake(
        &self,
        host: &str,
        tcp: TcpStream,
        timeout: Duration,
    ) -> Result<TlsStream<TcpStream>, ImapError> {
        let name = ServerName::try_from(host.to_owned()).map_err(|_| ImapError::Tls {
            host: host.to_owned(),
            reason: TlsFailure::Other(format!("{host:?} is not a valid TLS server name")),
        })?;
        let connector = TlsConnector::from(self.config.clone());
        match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
            Err(_) => Err(ImapError::Timeout {
                waiting_for: "the TLS handshake".to_owned(),
            }),
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(map_tls_error(host, e)),
        }
    }
}

/// Maps a handshake failure (an I/O error wrapping a rustls error) to words.
fn map_tls_error(host: &str, e: io::Error) -> ImapError {
    let reason = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(cert)) => certificate_failure(host, cert),
        Some(rustls::Error::AlertReceived(alert)) => TlsFailure::Other(format!(
            "the server ended the handshake with the alert {alert:?}"
        )),
        Some(rustls::Error::NoCertificatesPresented) => {
            TlsFailure::Other("the server presented no certificate".to_owned())
        }
        Some(rustls::Error::PeerIncompatible(p)) => TlsFailure::Other(format!(
            "the server's TLS is incompatible ({p:?}); it may only offer obsolete versions or ciphers"
        )),
        Some(other) => TlsFailure::Other(other.to_string()),
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => TlsFailure::Other(
                "the server closed the connection during the handshake (does this port speak TLS?)"
                    .to_owned(),
            ),
            _ => TlsFailure::Other(e.to_string()),
        },
    };
    ImapError::Tls {
        host: host.to_owned(),
        reason,
    }
}

fn certificate_failure(host: &str, e: &CertificateError) -> TlsFailure {
    match e {
        CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
        CertificateError::NotValidForName => TlsFailure::NotValidForName {
            name: host.to_owned(),
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext { presented, .. } => TlsFailure::NotValidForName {
            name: host.to_owned(),
            presented: presented.clone(),
        },
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsFailure::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            TlsFailure::NotValidYet
        }
        CertificateError::Revoked => TlsFailure::Revoked,
        CertificateError::BadSignature => TlsFailure::BadSignature,
        other => TlsFailure::Other(format!("the certificate is not acceptable: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_ca_file_error() {
        assert!(matches!(
            TlsTrust::new(Some(b"not a pem at all")),
            Err(ImapError::CaFile { .. })
        ));
        assert!(matches!(
            TlsTrust::new(Some(
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"
            )),
            Err(ImapError::CaFile { .. })
        ));
    }

    #[test]
    fn certificate_errors_are_mapped() {
        assert_eq!(
            certificate_failure("h", &CertificateError::UnknownIssuer),
            TlsFailure::UnknownIssuer
        );
        assert_eq!(
            certificate_failure("h", &CertificateError::Expired),
            TlsFailure::Expired
        );
        assert_eq!(
            certificate_failure("h", &CertificateError::Revoked),
            TlsFailure::Revoked
        );
        assert_eq!(
            certificate_failure("h", &CertificateError::BadSignature),
            TlsFailure::BadSignature
        );
        assert_eq!(
            certificate_failure("h", &CertificateError::NotValidYet),
            TlsFailure::NotValidYet
        );
    }
}
