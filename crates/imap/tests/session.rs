//! Sessions against scripted in-process fake servers on 127.0.0.1.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mailferry_core::Security;
use mailferry_imap::{
    Auth, ConnectFailure, ConnectOptions, ImapError, Limits, Session, TlsFailure, TlsTrust,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The server side of one scripted connection.
struct Peer<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    async fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    /// The next line the client sent, CRLF included.
    async fn line(&mut self) -> String {
        let mut buf = Vec::new();
        self.io.read_until(b'\n', &mut buf).await.unwrap();
        String::from_utf8(buf).unwrap()
    }

    async fn expect(&mut self, want: &str) {
        assert_eq!(self.line().await, want);
    }

    async fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.io.read_exact(&mut buf).await.unwrap();
        buf
    }
}

/// Starts a one-connection server running `script`; returns its port.
async fn server<F, Fut>(script: F) -> (u16, JoinHandle<()>)
where
    F: FnOnce(Peer<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        script(Peer {
            io: BufReader::new(tcp),
        })
        .await;
    });
    (port, handle)
}

struct Pki {
    ca_pem: String,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
}

fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A distinct name per CA, so that chains never mix CAs up.
    static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("mailferry test CA {n}"));
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = params.self_signed(&ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        ca_cert,
        ca_key,
    }
}

impl Pki {
    fn trust(&self) -> TlsTrust {
        TlsTrust::new(Some(self.ca_pem.as_bytes())).unwrap()
    }

    fn server_config(&self, name: &str) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &self.ca_cert, &self.ca_key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Arc::new(config)
    }
}

fn options(port: u16, security: Security) -> ConnectOptions {
    let mut o = ConnectOptions::new("127.0.0.1", port, security, pki().trust());
    o.connect_timeout = Duration::from_secs(5);
    o.response_timeout = Duration::from_secs(5);
    o
}

const GREETING: &[u8] = b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] ready\r\n";

async fn connected(port: u16) -> Session {
    Session::connect(&options(port, Security::None))
        .await
        .unwrap()
}

#[tokio::test]
async fn happy_path_plaintext() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* OK Dovecot ready.\r\n").await;
        p.expect("A1 CAPABILITY\r\n").await;
        p.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA1 OK done\r\n").await;
        p.expect("A2 LOGIN \"jane@example.com\" \"secret\"\r\n").await;
        p.send(b"A2 OK [CAPABILITY IMAP4rev1 NAMESPACE LIST-EXTENDED SPECIAL-USE CONDSTORE] Logged in\r\n")
            .await;
        p.expect("A3 NAMESPACE\r\n").await;
        p.send(b"* NAMESPACE ((\"\" \"/\")) NIL ((\"Shared/\" \"/\"))\r\nA3 OK ok\r\n").await;
        p.expect("A4 LIST \"\" \"*\" RETURN (SUBSCRIBED SPECIAL-USE)\r\n").await;
        p.send(
            b"* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX\r\n\
              * LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n\
              * 3 XUNKNOWN whatever\r\n\
              A4 OK List completed\r\n",
        )
        .await;
        p.expect("A5 SELECT \"Sent Items\" (CONDSTORE)\r\n").await;
        p.send(
            b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
              * OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Flags permitted.\r\n\
              * 18 EXISTS\r\n\
              * 2 RECENT\r\n\
              * OK [UIDVALIDITY 1700000000] UIDs valid\r\n\
              * OK [UIDNEXT 4392] Predicted next UID\r\n\
              * OK [HIGHESTMODSEQ 90210] Highest\r\n\
              A5 OK [READ-WRITE] Select completed\r\n",
        )
        .await;
        p.expect("A6 EXAMINE \"INBOX\" (CONDSTORE)\r\n").await;
        p.send(b"* 0 EXISTS\r\nA6 OK [READ-ONLY] done\r\n").await;
        p.expect("A7 LOGOUT\r\n").await;
        p.send(b"* BYE Logging out\r\nA7 OK Logout completed.\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    assert_eq!(s.greeting(), "Dovecot ready.");
    assert_eq!(s.peer_addr().port(), port);
    assert!(s.capabilities().has_auth("plain"));
    s.authenticate(Auth::Login {
        user: "jane@example.com",
        password: "secret",
    })
    .await
    .unwrap();
    assert!(s.capabilities().has("CONDSTORE"));
    let ns = s.namespace().await.unwrap();
    assert_eq!(ns.personal[0].prefix, "");
    assert_eq!(ns.personal[0].delimiter, Some('/'));
    assert!(ns.other.is_empty());
    assert_eq!(ns.shared[0].prefix, "Shared/");
    let list = s.list("", "*").await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].name, "INBOX");
    assert!(list[0].has_attribute("\\Subscribed"));
    assert_eq!(list[1].name, "Sent Items");
    assert!(list[1].has_attribute("\\Sent"));
    let info = s.select("Sent Items", false).await.unwrap();
    assert_eq!(info.exists, 18);
    assert_eq!(info.recent, 2);
    assert_eq!(info.uidvalidity, Some(1_700_000_000));
    assert_eq!(info.uidnext, Some(4392));
    assert_eq!(info.highestmodseq, Some(90210));
    assert_eq!(info.flags.len(), 5);
    assert_eq!(info.permanentflags.as_ref().unwrap().len(), 3);
    assert!(info.read_write);
    let info = s.select("INBOX", true).await.unwrap();
    assert!(!info.read_write);
    assert_eq!(info.uidvalidity, None);
    s.logout().await.unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn list_falls_back_to_lsub_for_subscriptions() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* PREAUTH [CAPABILITY IMAP4rev1] welcome\r\n").await;
        p.expect("A1 LIST \"\" \"%\"\r\n").await;
        p.send(b"* LIST () \".\" INBOX\r\n* LIST () \".\" Archive\r\n* LIST () \".\" Trash\r\nA1 OK\r\n")
            .await;
        p.expect("A2 LSUB \"\" \"%\"\r\n").await;
        p.send(b"* LSUB () \".\" inbox\r\n* LSUB () \".\" Archive\r\n* LSUB () \".\" Gone\r\nA2 OK\r\n")
            .await;
    })
    .await;
    let mut s = connected(port).await;
    assert!(s.is_authenticated());
    let list = s.list("", "%").await.unwrap();
    let subscribed: Vec<_> = list
        .iter()
        .map(|e| (e.name.as_str(), e.has_attribute("\\Subscribed")))
        .collect();
    assert_eq!(
        subscribed,
        vec![("INBOX", true), ("Archive", true), ("Trash", false)]
    );
    // PREAUTH: logging in again is refused.
    assert!(matches!(
        s.authenticate(Auth::Login {
            user: "u",
            password: "p"
        })
        .await,
        Err(ImapError::Protocol { .. })
    ));
    srv.await.unwrap();
}

#[tokio::test]
async fn mailbox_names_with_8bit_use_a_synchronizing_literal() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n").await;
        p.expect("A1 SELECT {9}\r\n").await;
        p.send(b"+ go ahead\r\n").await;
        assert_eq!(p.bytes(9).await, "Entw\u{fc}rfe".as_bytes());
        p.expect("\r\n").await;
        p.send(b"A1 NO [NONEXISTENT] Mailbox doesn't exist\r\n")
            .await;
        p.expect("A2 SELECT {5}\r\n").await;
        p.send(b"A2 BAD no literals today\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let Err(ImapError::No { command, code, .. }) = s.select("Entw\u{fc}rfe", false).await else {
        panic!()
    };
    assert_eq!(command, "SELECT");
    assert_eq!(code.as_deref(), Some("NONEXISTENT"));
    let Err(ImapError::Bad { command, .. }) = s.select("\u{e9}t\u{e9}", false).await else {
        panic!()
    };
    assert_eq!(command, "SELECT");
    srv.await.unwrap();
}

#[tokio::test]
async fn login_quotes_password_and_never_shows_it() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* OK [CAPABILITY IMAP4rev1] hi\r\n").await;
        p.expect("A1 LOGIN \"us\\\"er\" \"p\\\"a\\\\ss\"\r\n").await;
        p.send(b"A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
            .await;
    })
    .await;
    let mut s = connected(port).await;
    let err = s
        .authenticate(Auth::Login {
            user: "us\"er",
            password: "p\"a\\ss",
        })
        .await
        .unwrap_err();
    let ImapError::No {
        command,
        code,
        text,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(command, "LOGIN");
    assert_eq!(code.as_deref(), Some("AUTHENTICATIONFAILED"));
    assert_eq!(text, "Authentication failed.");
    assert!(!err.to_string().contains("p\"a"));
    assert!(!format!("{err:?}").contains("p\"a"));
    srv.await.unwrap();
}

#[tokio::test]
async fn login_password_with_8bit_uses_literal_plus() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        p.expect("A1 LOGIN \"u\" {6+}\r\n").await;
        assert_eq!(
            p.bytes(6).await,
            "p\u{e4}ss"
                .as_bytes()
                .iter()
                .chain(b"!")
                .copied()
                .collect::<Vec<_>>()
        );
        p.expect("\r\n").await;
        p.send(b"A1 OK [CAPABILITY IMAP4rev1] hi\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    s.authenticate(Auth::Login {
        user: "u",
        password: "p\u{e4}ss!",
    })
    .await
    .unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn logindisabled_and_missing_plain_are_refused_locally() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED STARTTLS] hi\r\n")
            .await;
        // Nothing must be sent; wait for the client to go away.
        let mut rest = Vec::new();
        let _ = p.io.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    })
    .await;
    let mut s = connected(port).await;
    let Err(ImapError::AuthMechanismUnavailable { mechanism }) = s
        .authenticate(Auth::Login {
            user: "u",
            password: "p",
        })
        .await
    else {
        panic!()
    };
    assert_eq!(mechanism, "LOGIN");
    let Err(ImapError::AuthMechanismUnavailable { mechanism }) = s
        .authenticate(Auth::Plain {
            authzid: None,
            authcid: "u",
            password: "p",
        })
        .await
    else {
        panic!()
    };
    assert_eq!(mechanism, "PLAIN");
    drop(s);
    srv.await.unwrap();
}

#[tokio::test]
async fn authenticate_plain_with_sasl_ir() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        p.expect("A1 AUTHENTICATE PLAIN YXV0aHppZABhdXRoY2lkAHBhc3N3b3Jk\r\n")
            .await;
        p.send(b"A1 OK [CAPABILITY IMAP4rev1 NAMESPACE] Logged in\r\n")
            .await;
    })
    .await;
    let mut s = connected(port).await;
    s.authenticate(Auth::Plain {
        authzid: Some("authzid"),
        authcid: "authcid",
        password: "password",
    })
    .await
    .unwrap();
    assert!(s.capabilities().has("NAMESPACE"));
    assert!(!s.capabilities().has("SASL-IR"));
    srv.await.unwrap();
}

#[tokio::test]
async fn authenticate_plain_without_sasl_ir_waits_for_continuation() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
            .await;
        p.expect("A1 AUTHENTICATE PLAIN\r\n").await;
        p.send(b"+ \r\n").await;
        p.expect("YXV0aHppZABhdXRoY2lkAHBhc3N3b3Jk\r\n").await;
        // A further challenge is cancelled with "*".
        p.send(b"+ bW9yZT8=\r\n").await;
        p.expect("*\r\n").await;
        p.send(b"A1 OK Logged in\r\n").await;
        p.expect("A2 CAPABILITY\r\n").await;
        p.send(b"* CAPABILITY IMAP4rev1 ID\r\nA2 OK\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    s.authenticate(Auth::Plain {
        authzid: Some("authzid"),
        authcid: "authcid",
        password: "password",
    })
    .await
    .unwrap();
    assert!(s.capabilities().has("ID"));
    srv.await.unwrap();
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        let _ = p.line().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let mut o = options(port, Security::None);
    o.response_timeout = Duration::from_millis(200);
    let mut s = Session::connect(&o).await.unwrap();
    let err = s
        .authenticate(Auth::Login {
            user: "u",
            password: "p",
        })
        .await
        .unwrap_err();
    let ImapError::Timeout { waiting_for } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(waiting_for, "the response to LOGIN");
    srv.abort();
}

#[tokio::test]
async fn server_that_never_greets() {
    let (port, srv) = server(|_p| async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let mut o = options(port, Security::None);
    o.response_timeout = Duration::from_millis(200);
    let err = Session::connect(&o).await.unwrap_err();
    assert!(matches!(err, ImapError::Greeting { .. }), "{err:?}");
    srv.abort();
}

#[tokio::test]
async fn bye_greeting() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* BYE Too many connections from your IP\r\n").await;
    })
    .await;
    let err = Session::connect(&options(port, Security::None))
        .await
        .unwrap_err();
    let ImapError::Greeting { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(detail.contains("Too many connections"), "{detail}");
    srv.await.unwrap();
}

#[tokio::test]
async fn garbage_greeting() {
    for garbage in [
        &b"SSH-2.0-OpenSSH_9.6\r\n"[..],
        b"A1 OK not a greeting\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
    ] {
        let (port, srv) = server(move |mut p| async move {
            p.send(garbage).await;
        })
        .await;
        let err = Session::connect(&options(port, Security::None))
            .await
            .unwrap_err();
        assert!(matches!(err, ImapError::Greeting { .. }), "{err:?}");
        srv.await.unwrap();
    }
}

#[tokio::test]
async fn bye_mid_command() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        let _ = p.line().await;
        p.send(b"* BYE Server shutting down\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let err = s.list("", "*").await.unwrap_err();
    let ImapError::Bye { text } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(text, "Server shutting down");
    srv.await.unwrap();
}

#[tokio::test]
async fn close_mid_response() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        let _ = p.line().await;
        p.send(b"* 3 EXISTS\r\n* OK [UIDVALID").await;
    })
    .await;
    let mut s = connected(port).await;
    let err = s.select("INBOX", false).await.unwrap_err();
    assert!(matches!(err, ImapError::Closed), "{err:?}");
    srv.await.unwrap();
}

#[tokio::test]
async fn giant_literal_is_refused() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        let _ = p.line().await;
        p.send(b"* LIST () \"/\" {99999999999}\r\n").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    })
    .await;
    let mut s = connected(port).await;
    let err = s.list("", "*").await.unwrap_err();
    assert!(matches!(err, ImapError::LimitExceeded { .. }), "{err:?}");
    srv.abort();
}

#[tokio::test]
async fn endless_line_is_refused() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        let _ = p.line().await;
        let chunk = vec![b'x'; 8192];
        for _ in 0..64 {
            if p.io.get_mut().write_all(&chunk).await.is_err() {
                break;
            }
        }
    })
    .await;
    let mut o = options(port, Security::None);
    o.limits = Limits {
        max_line: 16 * 1024,
        ..Limits::default()
    };
    let mut s = Session::connect(&o).await.unwrap();
    let err = s.namespace().await.unwrap_err();
    assert!(matches!(err, ImapError::LimitExceeded { .. }), "{err:?}");
    srv.await.unwrap();
}

#[tokio::test]
async fn tagged_response_with_unknown_tag() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        let _ = p.line().await;
        p.send(b"Z99 OK [READ-WRITE] sure\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let err = s.select("INBOX", false).await.unwrap_err();
    let ImapError::Protocol { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(detail.contains("Z99"), "{detail}");
    srv.await.unwrap();
}

#[tokio::test]
async fn starttls_not_offered() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n")
            .await;
    })
    .await;
    let err = Session::connect(&options(port, Security::Starttls))
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::StartTlsNotOffered), "{err:?}");
    srv.await.unwrap();
}

#[tokio::test]
async fn starttls_refused() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* OK hi\r\n").await;
        p.expect("A1 CAPABILITY\r\n").await;
        p.send(b"* CAPABILITY IMAP4rev1 STARTTLS\r\nA1 OK\r\n")
            .await;
        p.expect("A2 STARTTLS\r\n").await;
        p.send(b"A2 NO TLS not configured\r\n").await;
    })
    .await;
    let err = Session::connect(&options(port, Security::Starttls))
        .await
        .unwrap_err();
    let ImapError::StartTlsRefused { text } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(text, "TLS not configured");
    srv.await.unwrap();
}

#[tokio::test]
async fn connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = Session::connect(&options(port, Security::None))
        .await
        .unwrap_err();
    let ImapError::Connect { failure, addr, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*failure, ConnectFailure::Refused);
    assert_eq!(addr.port(), port);
}

#[tokio::test]
async fn unresolvable_host() {
    let mut o = options(143, Security::None);
    o.host = "no-such-host.invalid".into();
    let err = Session::connect(&o).await.unwrap_err();
    assert!(matches!(err, ImapError::Resolve { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-host.invalid"));
}

/// A TLS server on 127.0.0.1 whose certificate names `cert_name`, speaking
/// TLS from the first byte (or after STARTTLS).
async fn tls_server(pki: &Pki, cert_name: &str, starttls: bool) -> (u16, JoinHandle<()>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config(cert_name));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        if starttls {
            let mut p = Peer {
                io: BufReader::new(&mut tcp),
            };
            p.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] plain\r\n")
                .await;
            p.expect("A1 STARTTLS\r\n").await;
            p.send(b"A1 OK Begin TLS negotiation now\r\n").await;
        }
        let Ok(tls) = acceptor.accept(tcp).await else {
            return;
        };
        let mut p = Peer {
            io: BufReader::new(tls),
        };
        if starttls {
            p.expect("A2 CAPABILITY\r\n").await;
            p.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA2 OK\r\n")
                .await;
        } else {
            p.send(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] secure\r\n")
                .await;
        }
        p.expect(&format!("A{} LOGOUT\r\n", if starttls { 3 } else { 1 }))
            .await;
        p.send(b"* BYE bye\r\n").await;
    });
    (port, handle)
}

fn tls_options(port: u16, security: Security, trust: TlsTrust) -> ConnectOptions {
    let mut o = ConnectOptions::new("localhost", port, security, trust);
    o.connect_timeout = Duration::from_secs(5);
    o.response_timeout = Duration::from_secs(5);
    o
}

#[tokio::test]
async fn implicit_tls_with_the_ca_given() {
    let pki = pki();
    let (port, srv) = tls_server(&pki, "localhost", false).await;
    let s = Session::connect(&tls_options(port, Security::Tls, pki.trust()))
        .await
        .unwrap();
    assert_eq!(s.greeting(), "secure");
    s.logout().await.unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn starttls_upgrades_and_refreshes_capabilities() {
    let pki = pki();
    let (port, srv) = tls_server(&pki, "localhost", true).await;
    let s = Session::connect(&tls_options(port, Security::Starttls, pki.trust()))
        .await
        .unwrap();
    assert!(s.capabilities().has_auth("PLAIN"));
    assert!(!s.capabilities().has("LOGINDISABLED"));
    s.logout().await.unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn tls_with_an_untrusted_issuer() {
    let pki_server = pki();
    let (port, srv) = tls_server(&pki_server, "localhost", false).await;
    // The client trusts another CA (and the system roots), not the server's.
    let err = Session::connect(&tls_options(port, Security::Tls, pki().trust()))
        .await
        .unwrap_err();
    let ImapError::Tls { reason, host } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*reason, TlsFailure::UnknownIssuer);
    assert_eq!(host, "localhost");
    assert!(err.to_string().contains("--ca-file"));
    srv.await.unwrap();
}

#[tokio::test]
async fn tls_with_the_wrong_name() {
    let pki = pki();
    let (port, srv) = tls_server(&pki, "imap.other.example", false).await;
    let err = Session::connect(&tls_options(port, Security::Tls, pki.trust()))
        .await
        .unwrap_err();
    let ImapError::Tls { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(reason, TlsFailure::NotValidForName { .. }),
        "{reason:?}"
    );
    let text = err.to_string();
    assert!(text.contains("not valid for the name localhost"), "{text}");
    srv.await.unwrap();
}

#[tokio::test]
async fn tls_to_a_plaintext_port() {
    let (port, srv) = server(|mut p| async move {
        p.send(GREETING).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    })
    .await;
    let pki = pki();
    let err = Session::connect(&tls_options(port, Security::Tls, pki.trust()))
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::Tls { .. }), "{err:?}");
    srv.await.unwrap();
}

#[tokio::test]
async fn starttls_with_injected_plaintext_is_refused() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n").await;
        p.expect("A1 STARTTLS\r\n").await;
        p.send(b"A1 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
            .await;
    })
    .await;
    let err = Session::connect(&options(port, Security::Starttls))
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::Protocol { .. }), "{err:?}");
    srv.await.unwrap();
}

#[tokio::test]
async fn starttls_after_preauth_is_refused() {
    let (port, srv) = server(|mut p| async move {
        p.send(b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n")
            .await;
    })
    .await;
    let err = Session::connect(&options(port, Security::Starttls))
        .await
        .unwrap_err();
    assert!(matches!(err, ImapError::Greeting { .. }), "{err:?}");
    srv.await.unwrap();
}

#[test]
fn system_trust_loads_or_explains() {
    match TlsTrust::new(None) {
        Ok(_) => {}
        Err(ImapError::CaFile { reason }) => assert!(reason.contains("--ca-file"), "{reason}"),
        Err(e) => panic!("{e:?}"),
    }
}

// ------------------------------------------------------------ connect_to

/// A name that does not resolve (`.test` is reserved), with a certificate
/// for it served on 127.0.0.1.
const UNRESOLVABLE: &str = "imap.example.test";

fn connect_to_options(port: u16, security: Security, trust: TlsTrust) -> ConnectOptions {
    let mut o = tls_options(port, security, trust);
    o.host = UNRESOLVABLE.to_owned();
    o.connect_to = Some(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))]);
    o
}

/// A loopback port with nothing listening.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn connect_to_is_off_by_default() {
    let o = ConnectOptions::new("h", 993, Security::Tls, pki().trust());
    assert_eq!(o.connect_to, None);
}

#[tokio::test]
async fn connect_to_skips_the_lookup_and_verifies_the_host_name() {
    let pki = pki();
    let (port, srv) = tls_server(&pki, UNRESOLVABLE, false).await;
    let o = connect_to_options(port, Security::Tls, pki.trust());
    let s = Session::connect(&o).await.unwrap();
    assert_eq!(s.greeting(), "secure");
    assert_eq!(s.peer_addr(), o.connect_to.as_ref().unwrap()[0]);
    s.logout().await.unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn connect_to_with_starttls() {
    let pki = pki();
    let (port, srv) = tls_server(&pki, UNRESOLVABLE, true).await;
    let s = Session::connect(&connect_to_options(port, Security::Starttls, pki.trust()))
        .await
        .unwrap();
    assert!(s.capabilities().has_auth("PLAIN"));
    s.logout().await.unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn without_connect_to_the_name_must_resolve() {
    let pki = pki();
    let mut o = connect_to_options(closed_port().await, Security::Tls, pki.trust());
    o.connect_to = None;
    let err = Session::connect(&o).await.unwrap_err();
    let ImapError::Resolve { host, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, UNRESOLVABLE);
}

#[tokio::test]
async fn connect_to_still_checks_the_certificate_against_the_host() {
    let pki = pki();
    // The server at that address has a certificate for another name.
    let (port, srv) = tls_server(&pki, "imap.other.example", false).await;
    let err = Session::connect(&connect_to_options(port, Security::Tls, pki.trust()))
        .await
        .unwrap_err();
    let ImapError::Tls { host, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(host, UNRESOLVABLE);
    assert!(
        matches!(reason, TlsFailure::NotValidForName { name, .. } if name == UNRESOLVABLE),
        "{reason:?}"
    );
    srv.await.unwrap();
}

#[tokio::test]
async fn connect_to_tries_the_addresses_in_order() {
    let pki = pki();
    let (port, srv) = tls_server(&pki, UNRESOLVABLE, false).await;
    let dead = std::net::SocketAddr::from(([127, 0, 0, 1], closed_port().await));
    let live = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut o = connect_to_options(port, Security::Tls, pki.trust());
    o.connect_to = Some(vec![dead, live]);
    let s = Session::connect(&o).await.unwrap();
    assert_eq!(s.peer_addr(), live);
    s.logout().await.unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn connect_to_failures_name_the_host_and_the_address() {
    let pki = pki();
    let dead = std::net::SocketAddr::from(([127, 0, 0, 1], closed_port().await));
    let mut o = connect_to_options(dead.port(), Security::Tls, pki.trust());
    o.connect_to = Some(vec![dead]);
    let err = Session::connect(&o).await.unwrap_err();
    let ImapError::Connect {
        host,
        addr,
        failure,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!((host.as_str(), *addr), (UNRESOLVABLE, dead));
    assert_eq!(*failure, ConnectFailure::Refused);

    o.connect_to = Some(vec![]);
    let err = Session::connect(&o).await.unwrap_err();
    assert!(matches!(err, ImapError::InvalidArgument { .. }), "{err:?}");
}
