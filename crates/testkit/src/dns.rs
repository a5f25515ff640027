//! [`TestDns`]: a small authoritative DNS server on loopback (UDP and TCP on
//! the same port) for test names, recording every query.
//!
//! It runs on its own std thread with its own single-threaded tokio
//! runtime, so it keeps answering while the test thread blocks (on a child
//! process, or in a `#[test]` without any runtime), and it works just as
//! well from inside a `#[tokio::test]`. Dropping it stops the server.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::Context as _;
use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, MX, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;

/// Records by (fully qualified lower-case name, type).
type Zone = Mutex<HashMap<(String, RecordType), Vec<RData>>>;
type Queries = Mutex<Vec<String>>;

/// An authoritative DNS server for the names a test adds, on
/// `127.0.0.1:<port>` over UDP and TCP.
///
/// A name with no record at all is NXDOMAIN; a name with records of other
/// types only answers NOERROR with no answer. Records can be added at any
/// time, also while a client is running.
pub struct TestDns {
    addr: SocketAddr,
    zone: Arc<Zone>,
    queries: Arc<Queries>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDns")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `name` lower case with the trailing dot.
fn fqdn(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    if n.ends_with('.') {
        n
    } else {
        format!("{n}.")
    }
}

fn dns_name(name: &str) -> Name {
    Name::from_ascii(fqdn(name)).unwrap_or_else(|e| panic!("{name:?} is not a DNS name: {e}"))
}

/// Binds UDP and TCP on the same free loopback port.
fn bind() -> anyhow::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let mut last = None;
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .context("binding a loopback UDP socket for the test DNS server")?;
        let addr = udp.local_addr()?;
        match std::net::TcpListener::bind(addr) {
            Ok(tcp) => return Ok((udp, tcp)),
            // That TCP port is taken: try another UDP port.
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "no loopback port was free for both UDP and TCP (last error: {})",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

impl TestDns {
    /// Starts the server on a free loopback port, answering at once.
    pub fn start() -> anyhow::Result<TestDns> {
        let (udp, tcp) = bind()?;
        let addr = udp.local_addr()?;
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .context("starting the test DNS server's runtime")?;
        let zone: Arc<Zone> = Arc::default();
        let queries: Arc<Queries> = Arc::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let (z, q) = (zone.clone(), queries.clone());
        let thread = std::thread::Builder::new()
            .name(format!("test-dns-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    // Converted inside the runtime, which they need.
                    let (Ok(udp), Ok(tcp)) = (UdpSocket::from_std(udp), TcpListener::from_std(tcp))
                    else {
                        return;
                    };
                    tokio::spawn(serve_udp(udp, z.clone(), q.clone()));
                    tokio::spawn(serve_tcp(tcp, z, q));
                    // Either a stop or the sender dropped.
                    let _ = stopped.await;
                });
                // Dropping the runtime cancels the tasks and closes the sockets.
            })
            .context("starting the test DNS server's thread")?;
        Ok(TestDns {
            addr,
            zone,
            queries,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where the server listens (UDP and TCP), e.g. for `--resolver`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn add(&self, name: &str, rtype: RecordType, rdata: RData) {
        lock(&self.zone)
            .entry((fqdn(name), rtype))
            .or_default()
            .push(rdata);
    }

    /// `name` A 127.0.0.1.
    pub fn a(&self, name: &str) {
        self.a_ip(name, Ipv4Addr::LOCALHOST);
    }

    /// `name` A `ip` (or AAAA for an IPv6 address).
    pub fn a_ip(&self, name: &str, ip: impl Into<IpAddr>) {
        match ip.into() {
            IpAddr::V4(v4) => self.add(name, RecordType::A, RData::A(A(v4))),
            IpAddr::V6(v6) => self.add(name, RecordType::AAAA, RData::AAAA(AAAA(v6))),
        }
    }

    /// `name` SRV `priority weight port target`. Panics if `target` is not
    /// a DNS name.
    pub fn srv(&self, name: &str, priority: u16, weight: u16, port: u16, target: &str) {
        self.add(
            name,
            RecordType::SRV,
            RData::SRV(SRV::new(priority, weight, port, dns_name(target))),
        );
    }

    /// `name` MX `preference exchange`. Panics if `exchange` is not a DNS
    /// name.
    pub fn mx(&self, name: &str, preference: u16, exchange: &str) {
        self.add(
            name,
            RecordType::MX,
            RData::MX(MX::new(preference, dns_name(exchange))),
        );
    }

    /// Every query so far, in order, as `name TYPE` (the name fully
    /// qualified and lower case, e.g. `imap.example.test. A`).
    pub fn queries(&self) -> Vec<String> {
        lock(&self.queries).clone()
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve_udp(udp: UdpSocket, zone: Arc<Zone>, queries: Arc<Queries>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
            return;
        };
        if let Some(reply) = answer(&buf[..n], &zone, &queries) {
            let _ = udp.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(tcp: TcpListener, zone: Arc<Zone>, queries: Arc<Queries>) {
    loop {
        let Ok((stream, _)) = tcp.accept().await else {
            return;
        };
        tokio::spawn(serve_tcp_connection(stream, zone.clone(), queries.clone()));
    }
}

/// Length-prefixed messages (RFC 1035 4.2.2) until the client closes.
async fn serve_tcp_connection(mut s: TcpStream, zone: Arc<Zone>, queries: Arc<Queries>) {
    loop {
        let Ok(len) = s.read_u16().await else { return };
        let mut msg = vec![0u8; usize::from(len)];
        if s.read_exact(&mut msg).await.is_err() {
            return;
        }
        let Some(reply) = answer(&msg, &zone, &queries) else {
            return;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut out = len.to_be_bytes().to_vec();
        out.extend(reply);
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// The reply to one request; `None` for bytes that are not a DNS message.
fn answer(bytes: &[u8], zone: &Zone, queries: &Queries) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true);
    let zone = lock(zone);
    let mut code = ResponseCode::NoError;
    for query in request.queries() {
        reply.add_query(query.clone());
        let name = query.name().to_ascii().to_ascii_lowercase();
        lock(queries).push(format!("{name} {}", query.query_type()));
        if !zone.keys().any(|(n, _)| *n == name) {
            code = ResponseCode::NXDomain;
            continue;
        }
        if let Some(rdatas) = zone.get(&(name, query.query_type())) {
            for rdata in rdatas {
                reply.add_answer(Record::from_rdata(query.name().clone(), 60, rdata.clone()));
            }
        }
    }
    reply.set_response_code(code);
    reply.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query by hand over UDP, the answer's response code and record count.
    fn ask(addr: SocketAddr, name: &str, rtype: RecordType) -> (ResponseCode, usize) {
        use hickory_resolver::proto::op::Query;
        let mut msg = Message::new();
        msg.set_id(7)
            .set_recursion_desired(true)
            .add_query(Query::query(dns_name(name), rtype));
        let sock = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        sock.send_to(&msg.to_vec().unwrap(), addr).unwrap();
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        let reply = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(reply.id(), 7);
        (reply.response_code(), reply.answers().len())
    }

    #[test]
    fn answers_from_a_plain_test_and_records_queries() {
        let dns = TestDns::start().unwrap();
        dns.a("Host.Example.Test");
        dns.mx("example.test", 10, "host.example.test");
        assert_eq!(
            ask(dns.addr(), "host.example.test", RecordType::A),
            (ResponseCode::NoError, 1)
        );
        assert_eq!(
            ask(dns.addr(), "host.example.test", RecordType::AAAA),
            (ResponseCode::NoError, 0)
        );
        assert_eq!(
            ask(dns.addr(), "nothing.example.test", RecordType::A),
            (ResponseCode::NXDomain, 0)
        );
        assert_eq!(
            ask(dns.addr(), "example.test", RecordType::MX),
            (ResponseCode::NoError, 1)
        );
        assert_eq!(
            dns.queries(),
            [
                "host.example.test. A",
                "host.example.test. AAAA",
                "nothing.example.test. A",
                "example.test. MX",
            ]
        );
    }

    #[test]
    fn drop_stops_the_server() {
        let dns = TestDns::start().unwrap();
        let addr = dns.addr();
        drop(dns);
        // The TCP port is closed once the server is gone.
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
