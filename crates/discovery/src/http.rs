//! A deliberately small HTTP/1.1 client: one request per connection, made
//! to a checked address, redirects never followed (the caller decides),
//! bodies capped. Credentials can only be attached to an `https` request,
//! whose certificate is validated against the host name.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use crate::net::{Net, StepError};
use crate::scope::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// An absolute `http`/`https` URL without user information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) scheme: Scheme,
    /// Normalized host name (or IP literal, without brackets).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) target: String,
}

impl Url {
    pub(crate) fn new(scheme: Scheme, host: &str, port: u16, target: &str) -> Url {
        Url {
            scheme,
            host: normalize(host),
            port,
            target: target.to_owned(),
        }
    }

    /// Parses an absolute URL as found in a `Location` header or a
    /// document. The fragment is dropped.
    pub(crate) fn parse(s: &str) -> Result<Url, String> {
        let s = s.trim();
        let s = s.split('#').next().unwrap_or_default();
        let uri: Uri = s.parse().map_err(|_| format!("{s:?} is not a URL"))?;
        let scheme = match uri.scheme_str() {
            Some(x) if x.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(x) if x.eq_ignore_ascii_case("http") => Scheme::Http,
            _ => return Err(format!("{s:?} is not an http(s) URL")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{s:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "{s:?} carries user information, which is never followed"
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("{s:?} has no host"));
        }
        let port = authority.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        let target = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/");
        Ok(Url::new(scheme, host, port, target))
    }

    fn default_port(&self) -> u16 {
        match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}{}", self.authority(), self.target)
    }
}

/// What came back. The body is read only for a 2xx status.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The body of a 200 response with an XML content type.
    pub(crate) fn xml_body(&self) -> Result<&[u8], String> {
        if self.status != 200 {
            return Err(format!("the server answered HTTP {}", self.status));
        }
        let ct = self.content_type.as_deref().unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime == "text/xml" || mime == "application/xml" || mime.ends_with("+xml") {
            Ok(&self.body)
        } else if ct.is_empty() {
            Err("the response has no content type (an XML document is required)".to_owned())
        } else {
            Err(format!(
                "the response's content type {ct:?} is not XML (an XML document is required)"
            ))
        }
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// HTTP Basic credentials, only ever attached to https requests.
pub(crate) struct Basic<'a> {
    pub(crate) login: &'a str,
    pub(crate) password: &'a str,
}

pub(crate) struct Http {
    net: Arc<Net>,
    tls: Arc<ClientConfig>,
    timeout: Duration,
    max_body: usize,
}

impl Http {
    pub(crate) fn new(
        net: Arc<Net>,
        tls: Arc<ClientConfig>,
        timeout: Duration,
        max_body: usize,
    ) -> Self {
        Http {
            net,
            tls,
            timeout,
            max_body,
        }
    }

    /// `GET url`, without credentials, whatever the scheme.
    pub(crate) async fn get(&self, url: &Url) -> Result<Response, StepError> {
        self.bounded(url, Method::GET, None, None).await
    }

    /// `POST url` with an XML body and, when given, Basic credentials.
    /// Refuses anything but https.
    pub(crate) async fn post_xml_https(
        &self,
        url: &Url,
        body: String,
        auth: Option<Basic<'_>>,
    ) -> Result<Response, StepError> {
        if url.scheme != Scheme::Https {
            return Err(StepError::Refused(format!(
                "{url} is not https; credentials go only over validated TLS"
            )));
        }
        self.bounded(url, Method::POST, Some(body), auth).await
    }

    async fn bounded(
        &self,
        url: &Url,
        method: Method,
        body: Option<String>,
        auth: Option<Basic<'_>>,
    ) -> Result<Response, StepError> {
        match tokio::time::timeout(self.timeout, self.exchange(url, method, body, auth)).await {
            Ok(r) => r,
            Err(_) => Err(StepError::Failed(format!(
                "no complete answer within {}s",
                self.timeout.as_secs_f32()
            ))),
        }
    }

    async fn exchange(
        &self,
        url: &Url,
        method: Method,
        body: Option<String>,
        auth: Option<Basic<'_>>,
    ) -> Result<Response, StepError> {
        let tcp = self.net.connect(&url.host, url.port).await?;
        let request = build_request(url, method, body, auth).map_err(StepError::Refused)?;
        match url.scheme {
            Scheme::Http => self.send(tcp, request).await.map_err(StepError::Failed),
            Scheme::Https => {
                let name = ServerName::try_from(url.host.clone()).map_err(|_| {
                    StepError::failed(format!("{:?} is not a valid TLS server name", url.host))
                })?;
                let tls = TlsConnector::from(self.tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        StepError::failed(format!(
                            "TLS with {} failed: {}",
                            url.host,
                            tls_reason(&e)
                        ))
                    })?;
                self.send(tls, request).await.map_err(StepError::Failed)
            }
        }
    }

    async fn send<S>(&self, stream: S, request: Request<Full<Bytes>>) -> Result<Response, String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("the HTTP connection failed: {e}"))?;
        // Aborted when this function returns or is cancelled (a timeout),
        // so a silent server cannot keep a task and a socket alive.
        let _driver = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let result = self.send_on(&mut sender, request).await;
        result
    }

    async fn send_on(
        &self,
        sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        request: Request<Full<Bytes>>,
    ) -> Result<Response, String> {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("the HTTP exchange failed: {e}"))?;
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE);
        let location = header(LOCATION);
        if !(200..300).contains(&status) {
            return Ok(Response {
                status,
                content_type,
                location,
                body: Vec::new(),
            });
        }
        let too_big = || format!("the response is larger than {} KiB", self.max_body / 1024);
        if let Some(len) = header(CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok()) {
            if len > self.max_body as u64 {
                return Err(too_big());
            }
        }
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the response failed: {e}"))?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > self.max_body {
                    return Err(too_big());
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(Response {
            status,
            content_type,
            location,
            body: bytes,
        })
    }
}

fn build_request(
    url: &Url,
    method: Method,
    body: Option<String>,
    auth: Option<Basic<'_>>,
) -> Result<Request<Full<Bytes>>, String> {
    let mut builder = Request::builder()
        .method(method)
        .uri(url.target.as_str())
        .header(HOST, url.authority())
        .header("User-Agent", "mailferry-discovery");
    if body.is_some() {
        builder = builder.header(CONTENT_TYPE, "text/xml; charset=utf-8");
    }
    if let Some(auth) = auth {
        if url.scheme != Scheme::Https {
            return Err("credentials go only over https".to_owned());
        }
        let token = base64(format!("{}:{}", auth.login, auth.password).as_bytes());
        let mut value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| "the credentials cannot be put in a header".to_owned())?;
        value.set_sensitive(true);
        builder = builder.header(AUTHORIZATION, value);
    }
    builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| format!("the request to {url} cannot be built: {e}"))
}

/// The handshake failure in words (the rustls error when there is one).
pub(crate) fn tls_reason(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            format!("the certificate is not acceptable ({cert:?})")
        }
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

/// Standard base64 with padding.
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_answers() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn urls_parse_and_print() {
        let u = Url::parse(
            "https://Autodiscover.Example.TEST:8443/autodiscover/autodiscover.xml?x=1#frag",
        )
        .unwrap();
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.host, "autodiscover.example.test");
        assert_eq!(u.port, 8443);
        assert_eq!(u.target, "/autodiscover/autodiscover.xml?x=1");
        assert_eq!(
            u.to_string(),
            "https://autodiscover.example.test:8443/autodiscover/autodiscover.xml?x=1"
        );
        let u = Url::parse("http://example.test").unwrap();
        assert_eq!((u.port, u.target.as_str()), (80, "/"));
        assert_eq!(u.to_string(), "http://example.test/");
        assert!(Url::parse("ftp://example.test/").is_err());
        assert!(Url::parse("https://user:pw@example.test/").is_err());
        assert!(Url::parse("/relative").is_err());
        assert!(Url::parse("not a url").is_err());
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a.b+c@example.test"), "a.b%2Bc%40example.test");
    }

    #[test]
    fn credentials_are_never_put_on_plain_http() {
        let url = Url::parse("http://autodiscover.example.test/x").unwrap();
        let auth = Basic {
            login: "admin",
            password: "secret",
        };
        assert!(build_request(&url, Method::GET, None, Some(auth)).is_err());
    }
}
