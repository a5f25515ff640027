//! `mailferry token …` and `mailferry serve --listen`: a token made by the
//! CLI lets requests in, a revoked one does not, and SIGTERM stops the
//! service cleanly (exit 0).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Mailferry;

/// A raw HTTP/1.1 GET; returns (status, body).
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn tokens_and_serve_with_listen() {
    let mf = Mailferry::new();
    let created = mf.run(&["token", "create", "ops"], &[]);
    created.assert_code(0);
    let token = created.stdout.trim().to_owned();
    assert!(token.starts_with("mf_") && token.len() == 46, "{token}");
    mf.run(&["token", "create", "ops"], &[]).assert_code(2);
    mf.run(&["token", "create", "bad name"], &[]).assert_code(2);
    let other = mf.run(&["token", "create", "other", "--json"], &[]).json();
    let other_token = other["token"].as_str().unwrap().to_owned();
    let list = mf.run(&["token", "list", "--json"], &[]);
    list.assert_code(0);
    assert!(!list.stdout.contains(&token) && !list.stdout.contains(&other_token), "a token is never listed");
    assert_eq!(list.json().as_array().unwrap().len(), 2);

    let mut serve = Command::new(env!("CARGO_BIN_EXE_mailferry"))
        .arg("--data-dir")
        .arg(mf.data_dir())
        .args(["serve", "--listen", "127.0.0.1:0", "--tick", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(serve.stderr.take().unwrap());
    let mut addr = None;
    for _ in 0..20 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("http://").nth(1) {
            addr = Some(rest.split('/').next().unwrap().to_owned());
            break;
        }
    }
    let addr = addr.expect("serve prints the address it listens on");
    assert_eq!(get(&addr, "/healthz", None).0, 200);
    assert_eq!(get(&addr, "/api/v1/batches", None).0, 401);
    let (status, body) = get(&addr, "/api/v1/batches", Some(&token));
    assert_eq!((status, body.trim()), (200, "[]"));
    // The worker records its first heartbeat as it starts, right after the
    // API prints its address.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let body = loop {
        let (status, body) = get(&addr, "/api/v1/workers", Some(&other_token));
        assert_eq!(status, 200);
        if body.contains("\"workers\":[{") || std::time::Instant::now() > deadline {
            break body;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(body.contains("\"workers\":[{"), "serve records its heartbeat: {body}");

    mf.run(&["token", "revoke", "ops"], &[]).assert_code(0);
    assert_eq!(get(&addr, "/api/v1/batches", Some(&token)).0, 401);
    mf.run(&["token", "revoke", "ops"], &[]).assert_code(2);

    // A second serve on the same address is refused with a clear error.
    let clash = mf.run(&["serve", "--listen", &addr], &[]);
    clash.assert_code(2);
    assert!(clash.stderr.contains("--listen"), "{}", clash.stderr);

    // SIGTERM: the API, the scheduler and the workers stop; exit 0.
    Command::new("kill").args(["-TERM", &serve.id().to_string()]).status().unwrap();
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    let status = serve.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}\n{rest}");
}
