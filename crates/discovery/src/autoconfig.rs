//! Thunderbird-style autoconfig (`config-v1.1.xml`): the document, and the
//! lanes that fetch it from the domain's `autoconfig.` host, its
//! `/.well-known/` path, a provider database, and — unconfirmed — the
//! domain of the lowest-preference MX host.

use std::sync::Arc;

use mailferry_core::{EmailAddress, LoginFormat, Security};

use crate::http::{query_escape, Scheme, Url};
use crate::net::DnsFailure;
use crate::outcome::{Method, Outcome};
use crate::run::{to_outcome, Ctx, Hit, Lane, Settings};
use crate::scope::registrable;
use crate::xml::{self, Element};

/// An IMAP server as the document describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) security: Security,
    pub(crate) login_format: Option<String>,
}

/// The authentication methods mailferry can use (LOGIN / AUTHENTICATE PLAIN
/// over TLS).
const SUPPORTED_AUTH: [&str; 1] = ["password-cleartext"];

/// The first usable IMAP server of the document, or why there is none.
pub(crate) fn parse(doc: &Element, address: &EmailAddress) -> Result<Server, String> {
    if doc.name != "clientConfig" {
        return Err(format!(
            "the root element is <{}>, not <clientConfig>",
            doc.name
        ));
    }
    let provider = doc
        .child("emailProvider")
        .ok_or("the document has no <emailProvider>")?;
    let mut reasons = Vec::new();
    for server in provider.children_named("incomingServer") {
        if server.attribute("type") != Some("imap") {
            continue;
        }
        match server_of(server, address) {
            Ok(s) => return Ok(s),
            Err(why) => reasons.push(why),
        }
    }
    if reasons.is_empty() {
        Err("the document has no IMAP server (only POP3 or none)".to_owned())
    } else {
        Err(format!("no usable IMAP server: {}", reasons.join("; ")))
    }
}

fn server_of(server: &Element, address: &EmailAddress) -> Result<Server, String> {
    let host = server
        .child_text("hostname")
        .ok_or("an IMAP server has no <hostname>")?;
    let host = substitute(host, address);
    let security = match server.child_text("socketType") {
        Some("SSL") => Security::Tls,
        Some("STARTTLS") => Security::Starttls,
        Some("plain") => return Err(format!("{host} is offered without TLS (socketType plain)")),
        Some(other) => return Err(format!("{host} has an unknown socketType {other:?}")),
        None => return Err(format!("{host} has no socketType")),
    };
    let port = match server.child_text("port") {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{host} has an invalid port {p:?}"))?,
        None => security.default_port(),
    };
    let methods: Vec<&str> = server
        .children_named("authentication")
        .map(|a| a.text.trim())
        .collect();
    if !methods.is_empty() && !methods.iter().any(|m| SUPPORTED_AUTH.contains(m)) {
        return Err(format!(
            "{host} offers only {} authentication, which mailferry cannot use",
            methods.join(", ")
        ));
    }
    let login_format = server
        .child_text("username")
        .and_then(|u| LoginFormat::parse(u).ok())
        .map(|f| f.as_str().to_owned());
    Ok(Server {
        host,
        port,
        security,
        login_format,
    })
}

/// Fills the address placeholders of a host name.
fn substitute(s: &str, address: &EmailAddress) -> String {
    s.replace("%EMAILADDRESS%", address.as_str())
        .replace("%EMAILLOCALPART%", address.local_part())
        .replace("%EMAILDOMAIN%", address.domain())
}

/// The lanes, best first: `autoconfig.D`, `D/.well-known`, the provider
/// database, then the MX-based lookup.
pub(crate) fn lanes(ctx: &Arc<Ctx>, address: &EmailAddress, next_id: &mut usize) -> Vec<Lane> {
    let domain = ctx.scope.domain().to_owned();
    let port = ctx.config.ports.https;
    let query = format!("?emailaddress={}", query_escape(address.as_str()));
    let mut urls = vec![
        Url::new(
            Scheme::Https,
            &format!("autoconfig.{domain}"),
            port,
            &format!("/mail/config-v1.1.xml{query}"),
        ),
        Url::new(
            Scheme::Https,
            &domain,
            port,
            &format!("/.well-known/autoconfig/mail/config-v1.1.xml{query}"),
        ),
    ];
    if let Some(url) = provider_db_url(ctx, &domain) {
        urls.push(url);
    }
    let mut lanes = Vec::new();
    for url in urls {
        let id = *next_id;
        *next_id += 1;
        let (ctx, address) = (ctx.clone(), address.clone());
        lanes.push(Lane {
            id,
            method: Method::Autoconfig,
            what: url.to_string(),
            run: Box::pin(async move { fetch(&ctx, id, &url, &address, None).await }),
        });
    }
    let id = *next_id;
    *next_id += 1;
    let (ctx, address) = (ctx.clone(), address.clone());
    lanes.push(Lane {
        id,
        method: Method::Autoconfig,
        what: format!("MX of {domain}"),
        run: Box::pin(async move { mx_lane(&ctx, id, &address).await }),
    });
    lanes
}

/// `BASE/DOMAIN` when a provider database is configured (checked to be
/// https when the discovery starts).
fn provider_db_url(ctx: &Ctx, domain: &str) -> Option<Url> {
    let base = ctx.config.provider_db.as_deref()?;
    let base = Url::parse(base).ok()?;
    let sep = if base.target.ends_with('/') { "" } else { "/" };
    Some(Url {
        target: format!("{}{sep}{domain}", base.target),
        ..base
    })
}

/// Fetches and reads one document. `unconfirmed` names an MX-derived source.
async fn fetch(
    ctx: &Ctx,
    id: usize,
    url: &Url,
    address: &EmailAddress,
    unconfirmed: Option<String>,
) -> Option<Hit> {
    let step = ctx.trace.open(id, Method::Autoconfig, url.to_string());
    let response = match ctx.http.get(url).await {
        Ok(r) => r,
        Err(e) => {
            ctx.trace.close(step, to_outcome(e));
            return None;
        }
    };
    let server = response
        .xml_body()
        .and_then(xml::parse)
        .and_then(|doc| parse(&doc, address));
    let server = match server {
        Ok(s) => s,
        Err(why) => {
            ctx.trace.close(step, Outcome::Failed(why));
            return None;
        }
    };
    let settings = Settings {
        host: server.host,
        port: server.port,
        security: server.security,
        login_format: server.login_format,
        needs_trust: Vec::new(),
        unconfirmed,
    };
    match ctx.accept(settings).await {
        Ok(found) => {
            ctx.trace.close(step, Outcome::Found);
            Some(Hit {
                found,
                source: format!("autoconfig:{url}"),
            })
        }
        Err(outcome) => {
            ctx.trace.close(step, outcome);
            None
        }
    }
}

/// The MX-based lookup: the lowest-preference MX host's registrable domain,
/// when it differs from D's, asked like D (its `autoconfig.` host and the
/// provider database). Results are unconfirmed.
async fn mx_lane(ctx: &Ctx, id: usize, address: &EmailAddress) -> Option<Hit> {
    let domain = ctx.scope.domain().to_owned();
    let step = ctx
        .trace
        .open(id, Method::Autoconfig, format!("MX of {domain}"));
    let records = match ctx.net.mx(&domain).await {
        Ok(r) => r,
        Err(DnsFailure::NoRecords) => {
            ctx.trace
                .close(step, Outcome::Failed("no MX record".to_owned()));
            return None;
        }
        Err(e) => {
            ctx.trace.close(step, Outcome::Failed(e.to_string()));
            return None;
        }
    };
    let Some((_, host)) = records.iter().min_by_key(|(pref, _)| *pref) else {
        ctx.trace
            .close(step, Outcome::Failed("no MX record".to_owned()));
        return None;
    };
    if host.is_empty() {
        ctx.trace.close(
            step,
            Outcome::Failed("a null MX: the domain accepts no mail".to_owned()),
        );
        return None;
    }
    let Some(mx_domain) = registrable(host) else {
        ctx.trace.close(
            step,
            Outcome::Failed(format!("the MX host {host} has no registrable domain")),
        );
        return None;
    };
    if ctx.scope.in_domain(host) {
        ctx.trace.close(
            step,
            Outcome::Failed(format!(
                "the MX host {host} is inside the domain; nothing more to ask"
            )),
        );
        return None;
    }
    let query = format!("?emailaddress={}", query_escape(address.as_str()));
    let mut urls = vec![Url::new(
        Scheme::Https,
        &format!("autoconfig.{mx_domain}"),
        ctx.config.ports.https,
        &format!("/mail/config-v1.1.xml{query}"),
    )];
    if let Some(url) = provider_db_url(ctx, &mx_domain) {
        urls.push(url);
    }
    ctx.trace.close(
        step,
        Outcome::Redirected(format!(
            "the MX host {host}, so the domain {mx_domain} is asked"
        )),
    );
    for url in urls {
        let via = format!("the MX-based lookup ({host})");
        if let Some(hit) = fetch(ctx, id, &url, address, Some(via)).await {
            return Some(hit);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> EmailAddress {
        EmailAddress::parse("alice@example.test").unwrap()
    }

    fn doc(servers: &str) -> Element {
        let text = format!(
            r#"<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="example.test">
            <domain>example.test</domain>{servers}<unknown>ignored</unknown></emailProvider></clientConfig>"#
        );
        xml::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn takes_the_first_usable_imap_server() {
        let d = doc(
            r#"<incomingServer type="pop3"><hostname>pop.example.test</hostname><port>995</port><socketType>SSL</socketType></incomingServer>
            <incomingServer type="imap"><hostname>plain.example.test</hostname><port>143</port><socketType>plain</socketType></incomingServer>
            <incomingServer type="imap"><hostname>oauth.example.test</hostname><port>993</port><socketType>SSL</socketType><authentication>OAuth2</authentication></incomingServer>
            <incomingServer type="imap"><hostname>imap.%EMAILDOMAIN%</hostname><port>143</port><socketType>STARTTLS</socketType>
              <authentication>OAuth2</authentication><authentication>password-cleartext</authentication>
              <username>%EMAILLOCALPART%</username></incomingServer>"#,
        );
        let s = parse(&d, &addr()).unwrap();
        assert_eq!(
            s,
            Server {
                host: "imap.example.test".to_owned(),
                port: 143,
                security: Security::Starttls,
                login_format: Some("%EMAILLOCALPART%".to_owned()),
            }
        );
    }

    #[test]
    fn explains_why_nothing_is_usable() {
        let d = doc(
            r#"<incomingServer type="imap"><hostname>x.example.test</hostname><socketType>plain</socketType></incomingServer>"#,
        );
        let e = parse(&d, &addr()).unwrap_err();
        assert!(e.contains("without TLS"), "{e}");
        let d = doc(r#"<incomingServer type="pop3"><hostname>x</hostname></incomingServer>"#);
        assert!(parse(&d, &addr()).unwrap_err().contains("no IMAP server"));
        let d = doc(
            r#"<incomingServer type="imap"><hostname>x</hostname><port>99999</port><socketType>SSL</socketType></incomingServer>"#,
        );
        assert!(parse(&d, &addr()).unwrap_err().contains("invalid port"));
        let other = xml::parse(b"<html/>").unwrap();
        assert!(parse(&other, &addr()).unwrap_err().contains("clientConfig"));
    }

    #[test]
    fn default_port_and_unusable_username() {
        let d = doc(
            r#"<incomingServer type="imap"><hostname>imap.example.test</hostname><socketType>SSL</socketType><username>fixed</username></incomingServer>"#,
        );
        let s = parse(&d, &addr()).unwrap();
        assert_eq!(
            (s.port, s.security, s.login_format),
            (993, Security::Tls, None)
        );
    }
}
