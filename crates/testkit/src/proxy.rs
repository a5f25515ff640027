//! A TCP proxy for fault injection on top of a real server: it forwards
//! bytes both ways and cuts chosen connections after a number of bytes from
//! the client, like a network that drops in the middle of a transfer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use anyhow::Result;

/// Which connections to cut, and when.
#[derive(Debug, Clone, Copy)]
pub struct CutPlan {
    /// Cut a connection once the client has sent this many bytes through it.
    pub after_client_bytes: u64,
    /// Cut only the first N connections that get that far (later ones pass).
    pub connections: usize,
}

pub struct FaultProxy {
    port: u16,
    cuts: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    closing: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `upstream`.
    pub fn start(upstream: SocketAddr, plan: CutPlan) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let cuts = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let closing = Arc::new(AtomicBool::new(false));
        let (c2, n2, closing2) = (cuts.clone(), connections.clone(), closing.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if closing2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                n2.fetch_add(1, Ordering::SeqCst);
                let cuts = c2.clone();
                thread::spawn(move || relay(client, server, plan, cuts));
            }
        });
        Ok(FaultProxy { port, cuts, connections, closing })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }

    /// How many connections were forwarded so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn relay(mut client: TcpStream, mut server: TcpStream, plan: CutPlan, cuts: Arc<AtomicUsize>) {
    let (Ok(mut client_r), Ok(mut server_w)) = (client.try_clone(), server.try_clone()) else { return };
    // server -> client in its own thread
    let back = thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    });
    let sent = AtomicU64::new(0);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match client_r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let total = sent.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                if total >= plan.after_client_bytes {
                    // Claim one of the cuts, if any are left.
                    let claimed = cuts
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| (c < plan.connections).then_some(c + 1))
                        .is_ok();
                    if claimed {
                        // Forward part of this read, then drop the line mid-transfer.
                        let _ = server_w.write_all(&buf[..n / 2]);
                        break;
                    }
                }
                if server_w.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = server_w.shutdown(Shutdown::Both);
    let _ = client_r.shutdown(Shutdown::Both);
    let _ = back.join();
}
