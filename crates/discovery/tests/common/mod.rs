//! The loopback world of the discovery tests: a DNS server for `.test`
//! names that records every query (the testkit's [`TestDns`]), an HTTPS
//! and a plain-HTTP server that answer per test and record every request,
//! a fake IMAP server, and a test CA.

#![allow(dead_code, unused_imports)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use mailferry_core::EmailAddress;
use mailferry_discovery::{
    Credentials, Discovery, DiscoveryConfig, DiscoveryError, Ports, TraceEntry,
};
use mailferry_testkit::{TestCa, TestDns};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

// ---------------------------------------------------------------- TLS

/// The test CA and a server certificate for every test host.
pub struct Pki {
    pub ca: TestCa,
    pub server: Arc<rustls::ServerConfig>,
}

pub const CERT_NAMES: [&str; 6] = [
    "example.test",
    "*.example.test",
    "other.test",
    "*.other.test",
    "provider.test",
    "*.provider.test",
];

impl Pki {
    pub fn new() -> Pki {
        let ca = TestCa::new("discovery test CA");
        let (cert_pem, key_pem) = ca.leaf(&CERT_NAMES);
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Pki {
            ca,
            server: Arc::new(server),
        }
    }
}

// ---------------------------------------------------------------- HTTP

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub tls: bool,
    pub method: String,
    /// Host header without the port.
    pub host: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

/// What to answer.
pub enum Reply {
    Xml(String),
    Status(u16),
    Redirect(u16, String),
    Raw {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// XML after a delay.
    Slow(Duration, String),
    /// Never answer (a black hole).
    Hang,
}

pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// An HTTP server (TLS or plain) that answers with the test's handler.
pub struct Web {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Web {
    pub async fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Handler) -> Web {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (handler, log, tls) = (handler.clone(), log.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(config) => {
                            let Ok(stream) = TlsAcceptor::from(config).accept(tcp).await else {
                                return;
                            };
                            serve(stream, true, handler, log).await;
                        }
                        None => serve(tcp, false, handler, log).await,
                    }
                });
            }
        });
        Web { port, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve<S>(stream: S, tls: bool, handler: Handler, log: Arc<Mutex<Vec<Seen>>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let (handler, log) = (handler.clone(), log.clone());
        async move {
            let host = req
                .headers()
                .get(hyper::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
                .to_owned();
            let method = req.method().to_string();
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let authorization = req
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned);
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let seen = Seen {
                tls,
                method,
                host,
                path,
                authorization,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            log.lock().unwrap().push(seen.clone());
            let reply = handler(&seen);
            let mut builder = hyper::Response::builder();
            let body = match reply {
                Reply::Xml(text) => {
                    builder = builder.header("Content-Type", "text/xml; charset=utf-8");
                    text.into_bytes()
                }
                Reply::Status(code) => {
                    builder = builder.status(code);
                    Vec::new()
                }
                Reply::Redirect(code, location) => {
                    builder = builder.status(code).header("Location", location);
                    Vec::new()
                }
                Reply::Raw {
                    status,
                    content_type,
                    body,
                } => {
                    builder = builder.status(status);
                    if let Some(ct) = content_type {
                        builder = builder.header("Content-Type", ct);
                    }
                    body
                }
                Reply::Slow(delay, text) => {
                    tokio::time::sleep(delay).await;
                    builder = builder.header("Content-Type", "text/xml; charset=utf-8");
                    text.into_bytes()
                }
                Reply::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Vec::new()
                }
            };
            Ok::<_, std::convert::Infallible>(builder.body(Full::new(Bytes::from(body))).unwrap())
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

// ---------------------------------------------------------------- IMAP

/// How the fake IMAP server behaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImapMode {
    /// Implicit TLS from the first byte.
    Tls,
    /// Plain, advertising STARTTLS and upgrading properly.
    Starttls,
    /// Plain, not advertising STARTTLS.
    NoStarttls,
    /// Plain, advertising STARTTLS, answering OK, then not speaking TLS.
    BrokenStarttls,
    /// Implicit TLS, greeting with PREAUTH.
    PreauthTls,
    /// Plain, advertising STARTTLS but greeting with PREAUTH.
    PreauthStarttls,
    /// Plain, advertising STARTTLS, and sending a plaintext response right
    /// after its OK, before TLS begins (an injection).
    InjectingStarttls,
}

const OK_GREETING: &str = "* OK fake IMAP ready";
const PREAUTH_GREETING: &str = "* PREAUTH fake IMAP, you are logged in";

/// A fake IMAP server: greeting, CAPABILITY, STARTTLS, LOGOUT.
pub struct FakeImap {
    pub port: u16,
    connections: Arc<Mutex<usize>>,
}

impl FakeImap {
    pub async fn start(mode: ImapMode, tls: Arc<rustls::ServerConfig>) -> FakeImap {
        let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections: Arc<Mutex<usize>> = Arc::default();
        let count = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                *count.lock().unwrap() += 1;
                let tls = tls.clone();
                tokio::spawn(async move {
                    let acceptor = TlsAcceptor::from(tls);
                    match mode {
                        ImapMode::Tls | ImapMode::PreauthTls => {
                            let greeting = if mode == ImapMode::PreauthTls {
                                PREAUTH_GREETING
                            } else {
                                OK_GREETING
                            };
                            if let Ok(s) = acceptor.accept(tcp).await {
                                imap_session(s, greeting, false, None).await;
                            }
                        }
                        ImapMode::NoStarttls => {
                            imap_session(tcp, OK_GREETING, false, None).await;
                        }
                        ImapMode::PreauthStarttls => {
                            imap_session(tcp, PREAUTH_GREETING, true, Some(false)).await;
                        }
                        ImapMode::InjectingStarttls => {
                            if let Some(mut tcp) =
                                imap_session(tcp, OK_GREETING, true, Some(true)).await
                            {
                                // Keep the connection open for the handshake
                                // the client must not start.
                                let mut hello = [0u8; 16];
                                let _ = tcp.read(&mut hello).await;
                            }
                        }
                        ImapMode::Starttls | ImapMode::BrokenStarttls => {
                            let broken = mode == ImapMode::BrokenStarttls;
                            if let Some(tcp) =
                                imap_session(tcp, OK_GREETING, true, Some(false)).await
                            {
                                if broken {
                                    // Wait for the ClientHello, then answer nonsense.
                                    let mut tcp = tcp;
                                    let mut hello = [0u8; 16];
                                    let _ = tcp.read(&mut hello).await;
                                    let _ = tcp.write_all(b"* OK this is not TLS\r\n").await;
                                    return;
                                }
                                if let Ok(s) = acceptor.accept(tcp).await {
                                    imap_session(s, OK_GREETING, false, None).await;
                                }
                            }
                        }
                    }
                });
            }
        });
        FakeImap { port, connections }
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

/// Serves until LOGOUT or STARTTLS; after STARTTLS returns the stream.
/// `starttls`: `None` refuses STARTTLS, `Some(inject)` accepts it (and with
/// `inject` sends a plaintext CAPABILITY right after the OK).
async fn imap_session<S>(
    stream: S,
    greeting: &str,
    offer_starttls: bool,
    starttls: Option<bool>,
) -> Option<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut io = BufReader::new(stream);
    io.get_mut()
        .write_all(format!("{greeting}\r\n").as_bytes())
        .await
        .ok()?;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let mut parts = line.trim_end().splitn(2, ' ');
        let tag = parts.next()?.to_owned();
        let cmd = parts.next().unwrap_or("").to_ascii_uppercase();
        let reply = match cmd.as_str() {
            "CAPABILITY" => {
                let extra = if offer_starttls { " STARTTLS" } else { "" };
                format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN{extra}\r\n{tag} OK done\r\n")
            }
            "STARTTLS" if starttls.is_some() => {
                let injected = if starttls == Some(true) {
                    "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\n"
                } else {
                    ""
                };
                io.get_mut()
                    .write_all(format!("{tag} OK begin TLS\r\n{injected}").as_bytes())
                    .await
                    .ok()?;
                return Some(io.into_inner());
            }
            "LOGOUT" => {
                let _ = io
                    .get_mut()
                    .write_all(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes())
                    .await;
                return None;
            }
            _ => format!("{tag} BAD unknown\r\n"),
        };
        io.get_mut().write_all(reply.as_bytes()).await.ok()?;
    }
}

// ---------------------------------------------------------------- config

/// A port with nothing listening.
pub async fn closed_port() -> u16 {
    let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    l.local_addr().unwrap().port()
}

/// The configuration pointing at the test world.
pub fn config(dns: &TestDns, pki: &Pki, ports: Ports) -> DiscoveryConfig {
    DiscoveryConfig {
        resolver: Some(dns.addr()),
        extra_ca_pem: Some(pki.ca.cert_pem.clone().into_bytes()),
        allow_private_networks: true,
        budget: Duration::from_secs(15),
        step_timeout: Duration::from_secs(5),
        stagger: Duration::from_millis(20),
        ports,
        srv_seed: Some(1),
        ..DiscoveryConfig::default()
    }
}

// ---------------------------------------------------------------- documents

pub fn pox_settings(server: &str, port: u16, login: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User><DisplayName>Alice</DisplayName></User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol><Type>IMAP</Type><Server>{server}</Server><Port>{port}</Port><SSL>on</SSL><LoginName>{login}</LoginName></Protocol>
      <Protocol><Type>SMTP</Type><Server>smtp.example.test</Server><Port>587</Port></Protocol>
    </Account>
  </Response>
</Autodiscover>"#
    )
}

pub fn pox_action(action: &str, element: &str, value: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account><Action>{action}</Action><{element}>{value}</{element}></Account>
  </Response>
</Autodiscover>"#
    )
}

pub fn pox_error(code: u32, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response><Error Time="12:00:00" Id="1"><ErrorCode>{code}</ErrorCode><Message>{message}</Message><DebugData/></Error></Response>
</Autodiscover>"#
    )
}

pub fn autoconfig(host: &str, port: u16, socket_type: &str, username: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <displayName>Example</displayName>
    <incomingServer type="imap">
      <hostname>{host}</hostname><port>{port}</port><socketType>{socket_type}</socketType>
      <authentication>password-cleartext</authentication><username>{username}</username>
    </incomingServer>
    <outgoingServer type="smtp"><hostname>smtp.example.test</hostname><port>465</port><socketType>SSL</socketType></outgoingServer>
  </emailProvider>
</clientConfig>"#
    )
}

// ---------------------------------------------------------------- world

pub fn not_found() -> Handler {
    Arc::new(|_| Reply::Status(404))
}

/// Everything a test needs; DNS records are added by the test.
pub struct World {
    pub dns: TestDns,
    pub pki: Pki,
    pub https: Web,
    pub http: Web,
    pub imaps: Option<FakeImap>,
    pub imap: Option<FakeImap>,
    pub config: DiscoveryConfig,
}

pub async fn world(
    https: Handler,
    http: Handler,
    imaps: Option<ImapMode>,
    imap: Option<ImapMode>,
) -> World {
    let dns = TestDns::start().expect("the test DNS server starts");
    let pki = Pki::new();
    let https = Web::start(Some(pki.server.clone()), https).await;
    let http = Web::start(None, http).await;
    let imaps = match imaps {
        Some(mode) => Some(FakeImap::start(mode, pki.server.clone()).await),
        None => None,
    };
    let imap = match imap {
        Some(mode) => Some(FakeImap::start(mode, pki.server.clone()).await),
        None => None,
    };
    let ports = Ports {
        https: https.port,
        http: http.port,
        imaps: match &imaps {
            Some(s) => s.port,
            None => closed_port().await,
        },
        imap: match &imap {
            Some(s) => s.port,
            None => closed_port().await,
        },
    };
    let config = config(&dns, &pki, ports);
    World {
        dns,
        pki,
        https,
        http,
        imaps,
        imap,
        config,
    }
}

// ---------------------------------------------------------------- helpers

pub const PASSWORD: &str = "hunter2-Secret";

pub fn alice() -> EmailAddress {
    EmailAddress::parse("alice@example.test").unwrap()
}

pub fn creds() -> Option<Credentials<'static>> {
    Some(Credentials {
        login: "admin@example.test",
        password: PASSWORD,
    })
}

pub fn text(trace: &[TraceEntry]) -> String {
    trace.iter().map(|e| format!("{e}\n")).collect()
}

pub fn ok(r: Result<Discovery, DiscoveryError>) -> Discovery {
    match r {
        Ok(d) => d,
        Err(e) => panic!("discovery failed: {e}"),
    }
}

pub fn nothing(r: Result<Discovery, DiscoveryError>) -> Vec<TraceEntry> {
    match r {
        Err(DiscoveryError::NothingFound { trace, .. }) => trace,
        other => panic!("expected NothingFound, got {other:?}"),
    }
}

pub fn is(host: &str, method: &str, path: &str) -> impl Fn(&Seen) -> bool + 'static {
    let (h, m, p) = (host.to_owned(), method.to_owned(), path.to_owned());
    move |s: &Seen| s.host == h && s.method == m && s.path.starts_with(&p)
}

pub const AD_PATH: &str = "/autodiscover/autodiscover.xml";

/// Autodiscover (slowly), autoconfig and 404 for the rest.
pub fn everything_answers() -> Handler {
    Arc::new(|s: &Seen| {
        if is("autodiscover.example.test", "POST", AD_PATH)(s) {
            // Slower than the others: the ranking, not the speed, decides.
            Reply::Slow(
                Duration::from_millis(300),
                pox_settings("imap.example.test", 993, "alice@example.test"),
            )
        } else if is("autoconfig.example.test", "GET", "/mail/config-v1.1.xml")(s) {
            Reply::Xml(autoconfig(
                "mail.example.test",
                143,
                "STARTTLS",
                "%EMAILADDRESS%",
            ))
        } else {
            Reply::Status(404)
        }
    })
}
