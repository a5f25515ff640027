//! Exchange Autodiscover (POX): the request, the response, and the lanes
//! with their redirects (HTTP 301/302, `redirectUrl`, `redirectAddr`),
//! followed by hand, https only, at most [`MAX_REDIRECTS`](crate::run::MAX_REDIRECTS)
//! in all and never twice to the same place.

use std::sync::Arc;

use mailferry_core::{EmailAddress, Security};

use crate::http::{Basic, Scheme, Url};
use crate::outcome::{Method, Outcome};
use crate::run::{to_outcome, BoxFuture, Ctx, Hit, Lane, Settings};
use crate::scope::Scope;
use crate::xml::{self, Element};

const REQUEST_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const PATH: &str = "/autodiscover/autodiscover.xml";

/// The POX request for `address`.
pub(crate) fn request_body(address: &EmailAddress) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"{REQUEST_SCHEMA}\">\n  <Request>\n    \
         <EMailAddress>{}</EMailAddress>\n    \
         <AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>\n  \
         </Request>\n</Autodiscover>\n",
        xml::escape(address.as_str())
    )
}

/// What an Autodiscover response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// `Action` settings: the IMAP protocol's settings.
    Imap(Protocol),
    /// `Action` settings without an IMAP protocol: the types offered.
    NoImap(Vec<String>),
    RedirectUrl(String),
    RedirectAddr(String),
    Error {
        code: Option<u32>,
        message: String,
    },
}

/// An `Account/Protocol` of type IMAP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Protocol {
    pub(crate) server: Option<String>,
    pub(crate) port: Option<String>,
    pub(crate) ssl: Option<String>,
    pub(crate) encryption: Option<String>,
    pub(crate) login_name: Option<String>,
}

pub(crate) fn parse_answer(doc: &Element) -> Result<Answer, String> {
    if doc.name != "Autodiscover" {
        return Err(format!(
            "the root element is <{}>, not <Autodiscover>",
            doc.name
        ));
    }
    let error_of = |e: &Element| Answer::Error {
        code: e.child_text("ErrorCode").and_then(|c| c.parse().ok()),
        message: e.child_text("Message").unwrap_or("").to_owned(),
    };
    if let Some(e) = doc.child("Error") {
        return Ok(error_of(e));
    }
    let response = doc
        .child("Response")
        .ok_or("the document has no <Response>")?;
    if let Some(e) = response.child("Error") {
        return Ok(error_of(e));
    }
    let account = response
        .child("Account")
        .ok_or("the response has no <Account> and no <Error>")?;
    let action = account.child_text("Action").unwrap_or("settings");
    match action.to_ascii_lowercase().as_str() {
        "redirecturl" => account
            .child_text("RedirectUrl")
            .map(|u| Answer::RedirectUrl(u.to_owned()))
            .ok_or_else(|| "Action redirectUrl without a <RedirectUrl>".to_owned()),
        "redirectaddr" => account
            .child_text("RedirectAddr")
            .map(|a| Answer::RedirectAddr(a.to_owned()))
            .ok_or_else(|| "Action redirectAddr without a <RedirectAddr>".to_owned()),
        "settings" => {
            let protocols: Vec<&Element> = account.children_named("Protocol").collect();
            let imap = protocols.iter().find(|p| {
                p.child_text("Type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("IMAP"))
            });
            Ok(match imap {
                Some(p) => Answer::Imap(Protocol {
                    server: p.child_text("Server").map(str::to_owned),
                    port: p.child_text("Port").map(str::to_owned),
                    ssl: p.child_text("SSL").map(str::to_owned),
                    encryption: p.child_text("Encryption").map(str::to_owned),
                    login_name: p.child_text("LoginName").map(str::to_owned),
                }),
                None => Answer::NoImap(
                    protocols
                        .iter()
                        .filter_map(|p| p.child_text("Type").map(str::to_owned))
                        .collect(),
                ),
            })
        }
        other => Err(format!("unknown Action {other:?}")),
    }
}

/// Host, port and security of the IMAP protocol. `Encryption` wins over
/// `SSL`; no encryption is plaintext (refused by the caller); port 143
/// means STARTTLS, any other implicit TLS.
pub(crate) fn imap_settings(p: &Protocol) -> Result<(String, u16, Security), String> {
    let host = p
        .server
        .clone()
        .ok_or("the IMAP protocol has no <Server>")?;
    let port = match &p.port {
        Some(s) => s
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("the IMAP protocol has an invalid <Port> {s:?}"))?,
        None => 993,
    };
    let encrypted = match p.encryption.as_deref() {
        Some(e) if e.eq_ignore_ascii_case("none") => false,
        Some(_) => true,
        None => !p
            .ssl
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("off")),
    };
    let security = match (encrypted, port) {
        (false, _) => Security::None,
        (true, 143) => Security::Starttls,
        (true, _) => Security::Tls,
    };
    Ok((host, port, security))
}

/// A login-format template for `LoginName` as given for `address`, when it
/// is the address, the local part, or `PREFIX\localpart`.
pub(crate) fn login_template(login: &str, address: &EmailAddress) -> Option<String> {
    if login.eq_ignore_ascii_case(address.as_str()) {
        return Some("%EMAILADDRESS%".to_owned());
    }
    if login == address.local_part() {
        return Some("%EMAILLOCALPART%".to_owned());
    }
    let (prefix, user) = login.rsplit_once('\\')?;
    (user == address.local_part() && !prefix.contains('%'))
        .then(|| format!("{prefix}\\%EMAILLOCALPART%"))
}

/// The meaning of a POX error code.
pub(crate) fn error_meaning(code: Option<u32>) -> &'static str {
    match code {
        Some(500) => "the server does not know this address (500)",
        Some(501) | Some(602) => "the server says the address is not valid (501/602)",
        Some(600) => "the server says the request is invalid (600)",
        Some(601) => "the server offers no provider for the requested response schema (601)",
        Some(603) => "the server had an internal error (603)",
        _ => "the server answered with an error",
    }
}

/// Where a lane starts.
#[derive(Clone)]
enum Start {
    /// POST (with credentials) to an https URL.
    Post(Url),
    /// GET the plain-http URL without credentials, for its 302.
    HttpProbe(Url),
    /// The SRV name `_autodiscover._tcp.D`.
    Srv(String),
}

fn starts(domain: &str, https: u16, http: u16) -> Vec<Start> {
    vec![
        Start::Post(Url::new(Scheme::Https, domain, https, PATH)),
        Start::Post(Url::new(
            Scheme::Https,
            &format!("autodiscover.{domain}"),
            https,
            PATH,
        )),
        Start::HttpProbe(Url::new(
            Scheme::Http,
            &format!("autodiscover.{domain}"),
            http,
            PATH,
        )),
        Start::Srv(format!("_autodiscover._tcp.{domain}")),
    ]
}

fn label(start: &Start) -> String {
    match start {
        Start::Post(url) => url.to_string(),
        Start::HttpProbe(url) => format!("{url} (GET, no credentials)"),
        Start::Srv(name) => name.clone(),
    }
}

/// The four lanes for the address's domain.
pub(crate) fn lanes(ctx: &Arc<Ctx>, address: &EmailAddress, next_id: &mut usize) -> Vec<Lane> {
    ctx.visit(address.as_str());
    let ports = ctx.config.ports;
    starts(ctx.scope.domain(), ports.https, ports.http)
        .into_iter()
        .map(|start| {
            let id = *next_id;
            *next_id += 1;
            let what = label(&start);
            let run = run_start(ctx.clone(), id, start, address.clone());
            Lane {
                id,
                method: Method::Autodiscover,
                what,
                run,
            }
        })
        .collect()
}

fn run_start(
    ctx: Arc<Ctx>,
    id: usize,
    start: Start,
    address: EmailAddress,
) -> BoxFuture<Option<Hit>> {
    Box::pin(async move {
        let url = match start {
            Start::Post(url) => url,
            Start::HttpProbe(url) => http_probe(&ctx, id, &url).await?,
            Start::Srv(name) => srv_url(&ctx, id, &name).await?,
        };
        post_chain(ctx, id, url, address, Vec::new()).await
    })
}

/// GET over plain http, no credentials: only a 302 to an https URL counts.
async fn http_probe(ctx: &Ctx, id: usize, url: &Url) -> Option<Url> {
    let step = ctx.trace.open(
        id,
        Method::Autodiscover,
        format!("{url} (GET, no credentials)"),
    );
    let response = match ctx.http.get(url).await {
        Ok(r) => r,
        Err(e) => {
            ctx.trace.close(step, to_outcome(e));
            return None;
        }
    };
    let next = match (response.status, response.location.as_deref()) {
        (302, Some(location)) => match Url::parse(location) {
            Ok(next) if next.scheme == Scheme::Https => Ok(next),
            Ok(next) => Err(Outcome::Refused(format!(
                "it redirects to {next}, which is not https"
            ))),
            Err(e) => Err(Outcome::Failed(format!("its redirect is unusable: {e}"))),
        },
        (status, _) => Err(Outcome::Failed(format!(
            "HTTP {status}; only a 302 to an https URL is used from plain http"
        ))),
    };
    let next = next.and_then(|n| {
        ctx.redirect(&n.to_string()).map_err(Outcome::Refused)?;
        Ok(n)
    });
    match next {
        Ok(n) => {
            ctx.trace.close(step, Outcome::Redirected(n.to_string()));
            Some(n)
        }
        Err(o) => {
            ctx.trace.close(step, o);
            None
        }
    }
}

/// `_autodiscover._tcp.D` → `https://TARGET:PORT/autodiscover/autodiscover.xml`.
async fn srv_url(ctx: &Ctx, id: usize, name: &str) -> Option<Url> {
    let step = ctx.trace.open(id, Method::Autodiscover, name);
    match crate::srv::lookup(ctx, name).await {
        Ok(records) => {
            let first = records.first()?;
            let url = Url::new(Scheme::Https, &first.target, first.port, PATH);
            ctx.trace.close(step, Outcome::Redirected(url.to_string()));
            Some(url)
        }
        Err(o) => {
            ctx.trace.close(step, o);
            None
        }
    }
}

/// POSTs to `url`, following redirects by hand, until settings, an error,
/// or a refusal. `needs_trust` collects the trusted hosts outside D.
fn post_chain(
    ctx: Arc<Ctx>,
    id: usize,
    url: Url,
    address: EmailAddress,
    needs_trust: Vec<String>,
) -> BoxFuture<Option<Hit>> {
    Box::pin(async move {
        let mut url = url;
        let mut needs_trust = needs_trust;
        loop {
            let step = ctx.trace.open(id, Method::Autodiscover, url.to_string());
            match post_once(&ctx, &url, &address, &mut needs_trust).await {
                Next::Done(Ok(found)) => {
                    ctx.trace.close(step, Outcome::Found);
                    return Some(Hit {
                        found,
                        source: format!("autodiscover:{url}"),
                    });
                }
                Next::Done(Err(outcome)) => {
                    ctx.trace.close(step, outcome);
                    return None;
                }
                Next::Url(next) => {
                    ctx.trace.close(step, Outcome::Redirected(next.to_string()));
                    url = next;
                }
                Next::Address(next) => {
                    ctx.trace
                        .close(step, Outcome::Redirected(format!("the address {next}")));
                    return restart(ctx, id, next, needs_trust).await;
                }
            }
        }
    })
}

/// `redirectAddr`: the candidates of the new address, in order, with the
/// same credentials.
async fn restart(
    ctx: Arc<Ctx>,
    id: usize,
    address: EmailAddress,
    needs_trust: Vec<String>,
) -> Option<Hit> {
    let domain = address.domain().to_owned();
    if let Err(why) = Scope::new(&domain, &[]) {
        ctx.trace.note(
            id,
            Method::Autodiscover,
            address.as_str(),
            Outcome::Refused(why),
        );
        return None;
    }
    let ports = ctx.config.ports;
    let mut candidates = starts(&domain, ports.https, ports.http);
    if !ctx.scope.in_domain(&domain) {
        // Outside the domain only the https POSTs remain, and each needs
        // its host trusted: no unauthenticated probing of a foreign domain.
        candidates.retain(|s| matches!(s, Start::Post(_)));
    }
    for start in candidates {
        let url = match start {
            Start::Post(url) => Some(url),
            Start::HttpProbe(url) => http_probe(&ctx, id, &url).await,
            Start::Srv(name) => srv_url(&ctx, id, &name).await,
        };
        if let Some(url) = url {
            let hit = post_chain(ctx.clone(), id, url, address.clone(), needs_trust.clone()).await;
            if hit.is_some() {
                return hit;
            }
        }
    }
    None
}

enum Next {
    Done(Result<crate::outcome::Found, Outcome>),
    Url(Url),
    Address(EmailAddress),
}

async fn post_once(
    ctx: &Ctx,
    url: &Url,
    address: &EmailAddress,
    needs_trust: &mut Vec<String>,
) -> Next {
    use Next::Done;
    if let Err(why) = ctx.check_host(&url.host, needs_trust) {
        return Done(Err(Outcome::Refused(format!(
            "credentials are not sent there: {why}"
        ))));
    }
    let Some((login, password)) = &ctx.credentials else {
        return Done(Err(Outcome::NotTried(
            "no credentials were given".to_owned(),
        )));
    };
    let auth = Basic {
        login,
        password: password.expose(),
    };
    let response = match ctx
        .http
        .post_xml_https(url, request_body(address), Some(auth))
        .await
    {
        Ok(r) => r,
        Err(e) => return Done(Err(to_outcome(e))),
    };
    match response.status {
        301 | 302 | 307 | 308 => {
            let Some(location) = response.location.as_deref() else {
                return Done(Err(Outcome::Failed(format!(
                    "HTTP {} without a Location",
                    response.status
                ))));
            };
            return redirect_to_url(ctx, location);
        }
        401 => {
            return Done(Err(Outcome::Failed(
                "HTTP 401: the server did not accept the credentials here \
                 (this alone does not prove the password wrong)"
                    .to_owned(),
            )))
        }
        _ => {}
    }
    let answer = response
        .xml_body()
        .and_then(xml::parse)
        .and_then(|doc| parse_answer(&doc));
    match answer {
        Err(why) => Done(Err(Outcome::Failed(why))),
        Ok(Answer::Error { code, message }) => {
            let mut why = error_meaning(code).to_owned();
            if !message.is_empty() {
                why.push_str(&format!(": {}", crate::outcome::excerpt(&message)));
            }
            Done(Err(Outcome::Failed(why)))
        }
        Ok(Answer::NoImap(types)) => Done(Err(Outcome::Failed(format!(
            "the settings have no IMAP protocol (only {})",
            if types.is_empty() {
                "none".to_owned()
            } else {
                types.join(", ")
            }
        )))),
        Ok(Answer::RedirectUrl(u)) => redirect_to_url(ctx, &u),
        Ok(Answer::RedirectAddr(a)) => {
            let next = match EmailAddress::parse(&a) {
                Ok(n) => n,
                Err(e) => return Done(Err(Outcome::Failed(format!("redirectAddr: {e}")))),
            };
            if next.as_str().eq_ignore_ascii_case(address.as_str()) {
                return Done(Err(Outcome::Failed(
                    "redirectAddr names the same address again, which is invalid".to_owned(),
                )));
            }
            match ctx.redirect(next.as_str()) {
                Ok(()) => Next::Address(next),
                Err(why) => Done(Err(Outcome::Refused(why))),
            }
        }
        Ok(Answer::Imap(protocol)) => {
            let (host, port, security) = match imap_settings(&protocol) {
                Ok(s) => s,
                Err(why) => return Done(Err(Outcome::Failed(why))),
            };
            let login_format = protocol
                .login_name
                .as_deref()
                .and_then(|l| login_template(l, address));
            let settings = Settings {
                host,
                port,
                security,
                login_format,
                needs_trust: needs_trust.clone(),
                unconfirmed: None,
            };
            Done(ctx.accept(settings).await)
        }
    }
}

/// A redirect to an URL: https only, counted, never twice.
fn redirect_to_url(ctx: &Ctx, location: &str) -> Next {
    let next = match Url::parse(location) {
        Ok(n) => n,
        Err(e) => return Next::Done(Err(Outcome::Failed(format!("unusable redirect: {e}")))),
    };
    if next.scheme != Scheme::Https {
        return Next::Done(Err(Outcome::Refused(format!(
            "the redirect to {next} is not https; credentials go only over TLS"
        ))));
    }
    match ctx.redirect(&next.to_string()) {
        Ok(()) => Next::Url(next),
        Err(why) => Next::Done(Err(Outcome::Refused(why))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> EmailAddress {
        EmailAddress::parse("alice@example.test").unwrap()
    }

    fn answer(account: &str) -> Answer {
        let doc = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
            <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
            <Response xmlns="{RESPONSE_SCHEMA}">{account}</Response></Autodiscover>"#
        );
        parse_answer(&xml::parse(doc.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn the_request_names_the_address_and_schema() {
        let body = request_body(&EmailAddress::parse("a&b@example.test").unwrap());
        assert!(body.contains("<EMailAddress>a&amp;b@example.test</EMailAddress>"));
        assert!(body.contains(RESPONSE_SCHEMA));
        assert!(xml::parse(body.as_bytes()).is_ok());
    }

    #[test]
    fn reads_imap_settings() {
        let a = answer(
            "<Account><AccountType>email</AccountType><Action>settings</Action>\
             <Protocol><Type>EXCH</Type><Server>ex.example.test</Server></Protocol>\
             <Protocol><Type>IMAP</Type><Server>imap.example.test</Server><Port>993</Port>\
             <SSL>on</SSL><LoginName>alice@example.test</LoginName></Protocol></Account>",
        );
        let Answer::Imap(p) = a else { panic!("{a:?}") };
        assert_eq!(
            imap_settings(&p).unwrap(),
            ("imap.example.test".to_owned(), 993, Security::Tls)
        );
        assert_eq!(
            login_template(p.login_name.as_deref().unwrap(), &addr()).as_deref(),
            Some("%EMAILADDRESS%")
        );
    }

    #[test]
    fn tls_mode_rules() {
        let p = |port: Option<&str>, ssl: Option<&str>, enc: Option<&str>| Protocol {
            server: Some("h".to_owned()),
            port: port.map(str::to_owned),
            ssl: ssl.map(str::to_owned),
            encryption: enc.map(str::to_owned),
            login_name: None,
        };
        let sec = |x: Protocol| imap_settings(&x).unwrap().2;
        assert_eq!(sec(p(Some("143"), None, None)), Security::Starttls);
        assert_eq!(sec(p(Some("993"), None, None)), Security::Tls);
        assert_eq!(sec(p(Some("10993"), Some("on"), None)), Security::Tls);
        assert_eq!(sec(p(Some("143"), Some("off"), None)), Security::None);
        assert_eq!(sec(p(Some("993"), Some("off"), Some("SSL"))), Security::Tls);
        assert_eq!(
            sec(p(Some("993"), Some("on"), Some("None"))),
            Security::None
        );
        assert_eq!(imap_settings(&p(None, None, None)).unwrap().1, 993);
        assert!(imap_settings(&p(Some("x"), None, None)).is_err());
    }

    #[test]
    fn redirects_and_errors() {
        assert_eq!(
            answer("<Account><Action>redirectUrl</Action><RedirectUrl>https://x.example.test/a</RedirectUrl></Account>"),
            Answer::RedirectUrl("https://x.example.test/a".to_owned())
        );
        assert_eq!(
            answer("<Account><Action>redirectAddr</Action><RedirectAddr>b@example.test</RedirectAddr></Account>"),
            Answer::RedirectAddr("b@example.test".to_owned())
        );
        assert_eq!(
            answer("<Error Time=\"1\" Id=\"2\"><ErrorCode>500</ErrorCode><Message>Unknown</Message></Error>"),
            Answer::Error {
                code: Some(500),
                message: "Unknown".to_owned()
            }
        );
        assert!(error_meaning(Some(601)).contains("schema"));
        assert!(error_meaning(Some(602)).contains("not valid"));
    }

    #[test]
    fn login_names_become_templates_only_when_they_generalize() {
        let a = addr();
        assert_eq!(
            login_template("ALICE@example.test", &a).as_deref(),
            Some("%EMAILADDRESS%")
        );
        assert_eq!(
            login_template("alice", &a).as_deref(),
            Some("%EMAILLOCALPART%")
        );
        assert_eq!(
            login_template("EXAMPLE\\alice", &a).as_deref(),
            Some("EXAMPLE\\%EMAILLOCALPART%")
        );
        assert_eq!(login_template("admin", &a), None);
    }
}
