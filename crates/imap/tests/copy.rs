//! The copy path (APPEND, UID FETCH streams, SEARCH, STATUS, STORE, ...)
//! against scripted in-process fake servers on 127.0.0.1.

use std::future::Future;
use std::time::Duration;

use mailferry_core::Security;
use mailferry_imap::{
    AppendRequest, AppendUid, ConnectOptions, FlagsMode, ImapError, Limits, OversizedMessage,
    Session, TlsTrust,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

struct Peer {
    io: BufReader<TcpStream>,
}

impl Peer {
    async fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

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

    /// Asserts the client sends nothing for a while.
    async fn silence(&mut self) {
        let r = tokio::time::timeout(Duration::from_millis(150), self.io.fill_buf()).await;
        assert!(r.is_err(), "the client sent something: {r:?}");
    }
}

async fn server<F, Fut>(script: F) -> (u16, JoinHandle<()>)
where
    F: FnOnce(Peer) -> Fut + Send + 'static,
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

fn options(port: u16) -> ConnectOptions {
    let mut o = ConnectOptions::new(
        "127.0.0.1",
        port,
        Security::None,
        TlsTrust::new(None).unwrap(),
    );
    o.connect_timeout = Duration::from_secs(5);
    o.response_timeout = Duration::from_secs(5);
    o
}

const PLUS: &[u8] =
    b"* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS UNSELECT ENABLE CONDSTORE APPENDLIMIT=35651584] ready\r\n";
const SYNC: &[u8] = b"* OK [CAPABILITY IMAP4rev1 UIDPLUS] ready\r\n";

async fn connected(port: u16) -> Session {
    Session::connect(&options(port)).await.unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn no_code(e: &ImapError) -> Option<(&str, Option<&str>)> {
    match e {
        ImapError::No { command, code, .. } => Some((command.as_str(), code.as_deref())),
        _ => None,
    }
}

#[tokio::test]
async fn append_with_literal_plus() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.expect("A1 APPEND \"INBOX\" (\\Seen $Label) \"01-Jan-2020 10:00:00 +0000\" {5+}\r\n")
            .await;
        assert_eq!(p.bytes(7).await, b"hello\r\n");
        p.send(b"* 1 EXISTS\r\n* 1 RECENT\r\nA1 OK [APPENDUID 38505 3955] APPEND completed\r\n")
            .await;
        // 8-bit, bare LF and CR bytes go as they are; no flags, no date.
        p.expect("A2 APPEND \"Entw\\\"urfe\" {6+}\r\n").await;
        assert_eq!(p.bytes(8).await, b"a\nb\r\xff\xfe\r\n");
        p.send(b"A2 NO [TOOBIG] Message too large\r\n").await;
        // The invalid appends below send nothing.
        p.expect("A3 NOOP\r\n").await;
        p.send(b"* VANISHED 3:4\r\n* 5 EXPUNGE\r\nA3 OK done\r\n")
            .await;
    })
    .await;
    let mut s = connected(port).await;
    assert_eq!(s.append_limit(), Some(35_651_584));
    let r = s
        .append(
            "INBOX",
            &strings(&["\\Seen", "\\Recent", "$Label"]),
            Some("01-Jan-2020 10:00:00 +0000"),
            b"hello",
        )
        .await
        .unwrap();
    assert_eq!(
        r,
        Some(AppendUid {
            uidvalidity: 38505,
            uid: 3955
        })
    );
    let e = s
        .append(
            "Entw\"urfe",
            &strings(&["\\Recent"]),
            None,
            b"a\nb\r\xff\xfe",
        )
        .await
        .unwrap_err();
    assert_eq!(no_code(&e), Some(("APPEND", Some("TOOBIG"))), "{e:?}");
    for date in [
        "1-Jan-2020 10:00:00",
        "01-Jan-2020 10:00:00 +0000\" {5}",
        "01-Jan-2020 10:00:00 +0000\r\nA9 DELETE INBOX",
        "35-Jan-2020 10:00:00 +0000",
    ] {
        let e = s.append("INBOX", &[], Some(date), b"x").await.unwrap_err();
        assert!(matches!(e, ImapError::InvalidArgument { .. }), "{e:?}");
    }
    let e = s.append("INBOX", &[], None, b"a\0b").await.unwrap_err();
    assert!(matches!(e, ImapError::InvalidArgument { .. }), "{e:?}");
    let e = s
        .append("INBOX", &strings(&["bad flag"]), None, b"x")
        .await
        .unwrap_err();
    assert!(matches!(e, ImapError::InvalidArgument { .. }), "{e:?}");
    s.noop().await.unwrap();
    let up = s.take_updates();
    assert_eq!(up.exists, Some(1));
    assert_eq!(up.recent, Some(1));
    assert_eq!(up.expunged, 1);
    assert_eq!(up.vanished, vec!["3:4".to_string()]);
    assert_eq!(s.updates().exists, None);
    assert_eq!(s.command_counts().get("APPEND"), Some(&2));
    assert_eq!(s.command_counts().get("NOOP"), Some(&1));
    assert_eq!(s.command_counts().len(), 2);
    srv.await.unwrap();
}

#[tokio::test]
async fn append_without_literal_plus_waits_for_continuation() {
    let (port, srv) = server(|mut p| async move {
        p.send(SYNC).await;
        p.expect("A1 APPEND \"INBOX\" (\\Seen) \" 7-Feb-2021 08:09:10 -0500\" {5}\r\n")
            .await;
        p.silence().await;
        p.send(b"+ Ready for literal data\r\n").await;
        assert_eq!(p.bytes(7).await, b"hello\r\n");
        p.send(b"A1 OK APPEND completed\r\n").await;
        // Refused before the literal is sent.
        p.expect("A2 APPEND \"INBOX\" {3}\r\n").await;
        p.send(b"A2 NO [OVERQUOTA] Quota exceeded\r\n").await;
        p.expect("A3 NOOP\r\n").await;
        p.send(b"A3 OK done\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let r = s
        .append(
            "INBOX",
            &strings(&["\\Seen"]),
            Some(" 7-Feb-2021 08:09:10 -0500"),
            b"hello",
        )
        .await
        .unwrap();
    assert_eq!(r, None);
    let e = s.append("INBOX", &[], None, b"abc").await.unwrap_err();
    assert_eq!(no_code(&e), Some(("APPEND", Some("OVERQUOTA"))), "{e:?}");
    s.noop().await.unwrap();
    srv.await.unwrap();
}

#[tokio::test]
async fn append_many_is_pipelined_with_literal_plus() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        // All three arrive before any answer is sent.
        for (tag, body) in [("A1", &b"one"[..]), ("A2", b"two"), ("A3", b"three")] {
            p.expect(&format!(
                "{tag} APPEND \"Archive\" (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {{{}+}}\r\n",
                body.len()
            ))
            .await;
            let mut want = body.to_vec();
            want.extend(b"\r\n");
            assert_eq!(p.bytes(want.len()).await, want);
        }
        p.send(
            b"A1 OK [APPENDUID 7 100] ok\r\n\
              * 1 EXISTS\r\n\
              A2 NO [OVERQUOTA] Quota exceeded\r\n\
              A3 OK [APPENDUID 7 101] ok\r\n",
        )
        .await;
        p.expect("A4 NOOP\r\n").await;
        p.send(b"A4 OK done\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let flags = strings(&["\\Seen", "\\Recent"]);
    let date = Some("17-Jul-1996 02:44:25 -0700");
    let req = |message: &'static [u8], internal_date| AppendRequest {
        flags: &flags,
        internal_date,
        message,
    };
    let results = s
        .append_many(
            "Archive",
            &[
                req(b"one", date),
                req(b"two", date),
                req(b"bad date", Some("yesterday")),
                req(b"three", date),
            ],
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(
        results[0].as_ref().unwrap(),
        &Some(AppendUid {
            uidvalidity: 7,
            uid: 100
        })
    );
    assert_eq!(
        no_code(results[1].as_ref().unwrap_err()),
        Some(("APPEND", Some("OVERQUOTA")))
    );
    assert!(matches!(results[2], Err(ImapError::InvalidArgument { .. })));
    assert_eq!(
        results[3].as_ref().unwrap(),
        &Some(AppendUid {
            uidvalidity: 7,
            uid: 101
        })
    );
    s.noop().await.unwrap();
    assert_eq!(s.command_counts().get("APPEND"), Some(&3));
    srv.await.unwrap();
}

#[tokio::test]
async fn append_many_without_literal_plus_goes_one_by_one() {
    let (port, srv) = server(|mut p| async move {
        p.send(SYNC).await;
        for (tag, body) in [("A1", &b"one"[..]), ("A2", b"two")] {
            p.expect(&format!("{tag} APPEND \"INBOX\" {{3}}\r\n")).await;
            p.silence().await;
            p.send(b"+ go\r\n").await;
            let mut want = body.to_vec();
            want.extend(b"\r\n");
            assert_eq!(p.bytes(5).await, want);
            p.send(format!("{tag} OK done\r\n").as_bytes()).await;
        }
    })
    .await;
    let mut s = connected(port).await;
    let req = |message: &'static [u8]| AppendRequest {
        flags: &[],
        internal_date: None,
        message,
    };
    let results = s
        .append_many("INBOX", &[req(b"one"), req(b"two")])
        .await
        .unwrap();
    assert!(results.iter().all(|r| matches!(r, Ok(None))));
    srv.await.unwrap();
}

/// Three messages, with 8-bit bytes, bare LF and CR, and an unsolicited
/// EXISTS and flag change among them.
const THREE: &[u8] = b"* 1 FETCH (UID 10 FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[] {12}\r\nSubject: a\r\n)\r\n\
* 4 EXISTS\r\n\
* 2 FETCH (UID 11 FLAGS () INTERNALDATE \" 1-Jan-2020 10:00:00 +0000\" BODY[] {8}\r\nx\ny\r\xe9\x00\xff\n)\r\n\
* 3 FETCH (FLAGS (\\Deleted))\r\n\
* 3 FETCH (UID 12 BODY[] {0}\r\n FLAGS ($Junk))\r\n";

#[tokio::test]
async fn fetch_stream_reads_one_message_at_a_time() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.expect("A1 UID FETCH 10:* (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n")
            .await;
        p.send(THREE).await;
        p.send(b"A1 OK Fetch completed\r\n").await;
        p.expect("A2 NOOP\r\n").await;
        p.send(b"A2 OK done\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let mut stream = s
        .uid_fetch("10:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(f) = stream.next().await.unwrap() {
        got.push(f);
    }
    assert!(stream.next().await.unwrap().is_none());
    drop(stream);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].uid(), Some(10));
    assert_eq!(got[0].body(), Some(&b"Subject: a\r\n"[..]));
    assert_eq!(got[0].internaldate(), Some("17-Jul-1996 02:44:25 -0700"));
    assert_eq!(got[0].flags(), Some(vec!["\\Seen".to_string()]));
    assert_eq!(got[1].uid(), Some(11));
    assert_eq!(got[1].body(), Some(&b"x\ny\r\xe9\x00\xff\n"[..]));
    assert_eq!(got[1].flags(), Some(vec![]));
    assert_eq!(got[2].uid(), Some(12));
    assert_eq!(got[2].body(), Some(&b""[..]));
    s.noop().await.unwrap();
    assert_eq!(s.updates().exists, Some(4));
    assert_eq!(s.updates().unsolicited_fetches, 1);
    assert_eq!(s.bodies_fetched(), 3);
    assert_eq!(s.command_counts().get("UID FETCH"), Some(&1));
    srv.await.unwrap();
}

#[tokio::test]
async fn fetch_stream_refused() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.expect("A1 UID FETCH 1:5 (UID RFC822.SIZE)\r\n").await;
        p.send(b"* 1 FETCH (UID 1 RFC822.SIZE 10)\r\nA1 NO [SERVERBUG] Internal error\r\n")
            .await;
        p.expect("A2 NOOP\r\n").await;
        p.send(b"A2 OK done\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let mut stream = s.uid_fetch("1:5", "(UID RFC822.SIZE)").await.unwrap();
    let f = stream.next().await.unwrap().unwrap();
    assert_eq!(f.rfc822_size(), Some(10));
    let e = stream.next().await.unwrap_err();
    assert_eq!(no_code(&e), Some(("UID FETCH", Some("SERVERBUG"))), "{e:?}");
    assert!(stream.next().await.unwrap().is_none());
    drop(stream);
    s.noop().await.unwrap();
    assert_eq!(s.bodies_fetched(), 0);
    srv.await.unwrap();
}

#[tokio::test]
async fn fetch_stream_skips_an_oversized_message() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.expect("A1 UID FETCH 1:* (UID BODY.PEEK[])\r\n").await;
        p.send(b"* 1 FETCH (UID 1 BODY[] {2}\r\nok)\r\n").await;
        p.send(b"* 2 FETCH (UID 2 BODY[] {5000}\r\n").await;
        for _ in 0..50 {
            p.send(&[b'z'; 100]).await;
        }
        p.send(b")\r\n* 3 FETCH (UID 3 BODY[] {3}\r\nyes)\r\nA1 OK done\r\n")
            .await;
        p.expect("A2 NOOP\r\n").await;
        p.send(b"A2 OK done\r\n").await;
    })
    .await;
    let mut o = options(port);
    o.limits = Limits {
        max_literal: 1024,
        ..Limits::default()
    };
    let mut s = Session::connect(&o).await.unwrap();
    let mut stream = s.uid_fetch("1:*", "(UID BODY.PEEK[])").await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().uid(), Some(1));
    let e = stream.next().await.unwrap_err();
    assert!(matches!(e, ImapError::LimitExceeded { .. }), "{e:?}");
    assert!(e.to_string().contains("UID 2"), "{e}");
    assert_eq!(
        stream.last_oversized(),
        Some(OversizedMessage {
            seq: 2,
            uid: Some(2),
            size: 5000
        })
    );
    let f = stream.next().await.unwrap().unwrap();
    assert_eq!((f.uid(), f.body()), (Some(3), Some(&b"yes"[..])));
    assert!(stream.next().await.unwrap().is_none());
    drop(stream);
    s.noop().await.unwrap();
    assert!(!s.is_broken());
    srv.await.unwrap();
}

#[tokio::test]
async fn dropped_fetch_stream_is_drained() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.expect("A1 UID FETCH 10:12 (UID FLAGS INTERNALDATE BODY.PEEK[])\r\n")
            .await;
        p.send(THREE).await;
        // The rest comes only after the client gave up reading.
        tokio::time::sleep(Duration::from_millis(100)).await;
        p.send(b"* 5 EXISTS\r\nA1 OK Fetch completed\r\n").await;
        p.expect("A2 NOOP\r\n").await;
        p.send(b"A2 OK done\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    let mut stream = s
        .uid_fetch("10:12", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        .await
        .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().uid(), Some(10));
    drop(stream);
    s.noop().await.unwrap();
    assert_eq!(s.updates().exists, Some(5));
    assert_eq!(s.bodies_fetched(), 3);
    srv.await.unwrap();
}

#[tokio::test]
async fn garbage_in_a_fetch_stream_breaks_the_session() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.expect("A1 UID FETCH 1 (UID)\r\n").await;
        p.send(b"* 1 FETCH (UID 1 (((\r\n").await;
        // Nothing more may be sent by the client.
        p.silence().await;
    })
    .await;
    let mut s = connected(port).await;
    let mut stream = s.uid_fetch("1", "(UID)").await.unwrap();
    let e = stream.next().await.unwrap_err();
    assert!(matches!(e, ImapError::Protocol { .. }), "{e:?}");
    drop(stream);
    assert!(s.is_broken());
    let e = s.noop().await.unwrap_err();
    assert!(matches!(e, ImapError::SessionBroken { .. }), "{e:?}");
    assert!(e.to_string().contains("earlier error"), "{e}");
    srv.await.unwrap();
    s.logout().await.unwrap();
}

#[tokio::test]
async fn raw_arguments_are_checked() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.silence().await;
    })
    .await;
    let mut s = connected(port).await;
    assert!(matches!(
        s.uid_fetch("1:* (BODY[])\r\nA9 DELETE INBOX", "(UID)")
            .await,
        Err(ImapError::InvalidArgument { .. })
    ));
    assert!(matches!(
        s.uid_fetch("1:*", "(UID)\r\nA9 LOGOUT").await,
        Err(ImapError::InvalidArgument { .. })
    ));
    assert!(matches!(
        s.uid_search("ALL\r\nA9 LOGOUT").await,
        Err(ImapError::InvalidArgument { .. })
    ));
    assert!(matches!(
        s.status("INBOX", &["MESSAGES)"]).await,
        Err(ImapError::InvalidArgument { .. })
    ));
    assert!(matches!(
        s.uid_store_flags("1", FlagsMode::Add, &strings(&["a)b"]))
            .await,
        Err(ImapError::InvalidArgument { .. })
    ));
    assert!(s.command_counts().is_empty());
    srv.await.unwrap();
}

#[tokio::test]
async fn search_status_create_store_enable_unselect() {
    let (port, srv) = server(|mut p| async move {
        p.send(PLUS).await;
        p.expect("A1 UID SEARCH UID 100:*\r\n").await;
        let mut long = b"* SEARCH".to_vec();
        for uid in 100..1100 {
            long.extend(format!(" {uid}").as_bytes());
        }
        long.extend(b"\r\n* 9 EXISTS\r\n* SEARCH 5000\r\nA1 OK Search done\r\n");
        p.send(&long).await;
        p.expect("A2 STATUS \"Sent Items\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE APPENDLIMIT X-GUID)\r\n")
            .await;
        p.send(b"* STATUS \"Sent Items\" (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1700000000 UNSEEN 3 HIGHESTMODSEQ 90210 SIZE 123456789012 APPENDLIMIT NIL)\r\nA2 OK done\r\n")
            .await;
        p.expect("A3 CREATE \"Archive/2020\"\r\n").await;
        p.send(b"A3 NO [ALREADYEXISTS] Mailbox already exists\r\n").await;
        p.expect("A4 SUBSCRIBE \"Archive/2020\"\r\n").await;
        p.send(b"A4 OK done\r\n").await;
        p.expect("A5 UID STORE 1:3,7 FLAGS.SILENT (\\Seen $Label)\r\n").await;
        p.send(b"* 2 FETCH (FLAGS (\\Seen $Label))\r\nA5 OK done\r\n").await;
        p.expect("A6 UID STORE 9 -FLAGS.SILENT (\\Flagged)\r\n").await;
        p.send(b"A6 OK done\r\n").await;
        p.expect("A7 UID STORE 9 FLAGS.SILENT ()\r\n").await;
        p.send(b"A7 OK done\r\n").await;
        p.expect("A8 ENABLE CONDSTORE QRESYNC\r\n").await;
        p.send(b"* ENABLED CONDSTORE\r\nA8 OK done\r\n").await;
        p.expect("A9 UNSELECT\r\n").await;
        p.send(b"A9 OK done\r\n").await;
    })
    .await;
    let mut o = options(port);
    o.limits = Limits {
        max_line: 1024,
        ..Limits::default()
    };
    let mut s = Session::connect(&o).await.unwrap();
    let uids = s.uid_search("UID 100:*").await.unwrap();
    assert_eq!(uids.len(), 1001);
    assert_eq!((uids[0], uids[999], uids[1000]), (100, 1099, 5000));
    let st = s
        .status(
            "Sent Items",
            &[
                "MESSAGES",
                "UIDNEXT",
                "UIDVALIDITY",
                "UNSEEN",
                "HIGHESTMODSEQ",
                "SIZE",
                "APPENDLIMIT",
                "X-GUID",
            ],
        )
        .await
        .unwrap();
    assert_eq!(st.messages, Some(231));
    assert_eq!(st.uidnext, Some(44292));
    assert_eq!(st.uidvalidity, Some(1_700_000_000));
    assert_eq!(st.unseen, Some(3));
    assert_eq!(st.highestmodseq, Some(90210));
    assert_eq!(st.size, Some(123_456_789_012));
    assert_eq!(st.appendlimit, None);
    let e = s.create("Archive/2020").await.unwrap_err();
    assert_eq!(no_code(&e), Some(("CREATE", Some("ALREADYEXISTS"))));
    s.subscribe("Archive/2020").await.unwrap();
    s.uid_store_flags(
        "1:3,7",
        FlagsMode::Replace,
        &strings(&["\\Seen", "\\Recent", "$Label"]),
    )
    .await
    .unwrap();
    s.uid_store_flags("9", FlagsMode::Remove, &strings(&["\\Flagged"]))
        .await
        .unwrap();
    // Adding nothing sends nothing; replacing with nothing clears.
    s.uid_store_flags("9", FlagsMode::Add, &strings(&["\\Recent"]))
        .await
        .unwrap();
    s.uid_store_flags("9", FlagsMode::Replace, &[])
        .await
        .unwrap();
    let enabled = s.enable(&["CONDSTORE", "QRESYNC"]).await.unwrap();
    assert_eq!(enabled, vec!["CONDSTORE".to_string()]);
    s.unselect().await.unwrap();
    let counts: Vec<(&str, u64)> = s
        .command_counts()
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("CREATE", 1),
            ("ENABLE", 1),
            ("STATUS", 1),
            ("SUBSCRIBE", 1),
            ("UID SEARCH", 1),
            ("UID STORE", 3),
            ("UNSELECT", 1),
        ]
    );
    assert_eq!(s.updates().exists, Some(9));
    assert_eq!(s.updates().unsolicited_fetches, 1);
    srv.await.unwrap();
}

#[tokio::test]
async fn without_unselect_or_enable_nothing_is_sent() {
    let (port, srv) = server(|mut p| async move {
        p.send(SYNC).await;
        p.expect("A1 NOOP\r\n").await;
        p.send(b"A1 OK done\r\n").await;
    })
    .await;
    let mut s = connected(port).await;
    s.unselect().await.unwrap();
    assert!(s.enable(&["CONDSTORE"]).await.unwrap().is_empty());
    s.noop().await.unwrap();
    assert_eq!(s.append_limit(), None);
    srv.await.unwrap();
}
