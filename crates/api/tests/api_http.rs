//! The HTTP API over real HTTP: a real `Engine` on a temporary SQLite store,
//! the router of `mailferry serve` on 127.0.0.1:0, its workers and
//! scheduler in the same process, and real Dovecots. Every response body is
//! kept and scanned for the passwords at the end of each test.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailferry_api::AppState;
use mailferry_engine::sync::NoProgress;
use mailferry_engine::worker::{StopFlag, WorkerConfig};
use mailferry_engine::{ConnectionDefaults, Engine};
use mailferry_store::Store;
use mailferry_testkit::corpus::fidelity_corpus;
use mailferry_testkit::Dovecot;
use serde_json::{json, Value};

const ADMIN: &str = "migadmin";
const ADMIN_PW: &str = "Adm1n-pw-9f3e2c";
const WRONG_PW: &str = "Wr0ng-pw-77ab1d";
const USER_PW: &str = "Us3r-pw-c0ffee";
const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const CAROL: &str = "carol@example.test";

/// A running API with its workers and scheduler.
struct Server {
    _dir: tempfile::TempDir,
    base: String,
    token: String,
    store: Arc<dyn Store>,
    stop: StopFlag,
    client: reqwest::Client,
    /// Every response body seen, for the secret scan.
    seen: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    #[track_caller]
    fn expect(self, status: u16) -> Resp {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    #[track_caller]
    fn expect_error(self, status: u16, code: &str) -> Value {
        let resp = self.expect(status);
        let v = resp.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        v
    }
}

async fn raised(stop: StopFlag) {
    while !stop.is_raised() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(mailferry_store::SqliteStore::open(dir.path()).await.unwrap());
        let mut connection = ConnectionDefaults::default();
        connection.retry.base = Duration::from_millis(50);
        connection.connect_timeout = Duration::from_secs(5);
        connection.response_timeout = Duration::from_secs(20);
        let engine = Engine::new(store.clone(), connection);
        let token = mailferry_api::auth::new_token().unwrap();
        store.create_token("tests", &mailferry_api::auth::token_hash(&token)).await.unwrap();

        let stop = StopFlag::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut state = AppState::new(engine.clone());
        state.remove_wait = Duration::from_secs(10);
        let server = tokio::spawn({
            let stop = stop.clone();
            async move { mailferry_api::serve(listener, state, raised(stop)).await.unwrap() }
        });
        let worker = tokio::spawn({
            let (engine, stop) = (engine.clone(), stop.clone());
            async move {
                let mut config = WorkerConfig::new(Arc::new(NoProgress));
                config.poll = Duration::from_millis(100);
                config.slots = 4;
                engine.run_worker(config, stop).await.unwrap();
            }
        });
        let scheduler = tokio::spawn({
            let (engine, stop) = (engine.clone(), stop.clone());
            async move {
                while !stop.is_raised() {
                    engine.scheduler_tick(chrono::Utc::now()).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
        Server {
            _dir: dir,
            base,
            token,
            store,
            stop,
            client: reqwest::Client::new(),
            seen: Arc::default(),
            tasks: vec![server, worker, scheduler],
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("the request is answered");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        self.seen.lock().unwrap().push(text.clone());
        Resp { status, headers, text }
    }

    fn authed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        rb.bearer_auth(&self.token)
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(self.authed(self.client.get(self.url(path)))).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.authed(self.client.post(self.url(path))).json(&body)).await
    }

    async fn post_empty(&self, path: &str) -> Resp {
        self.send(self.authed(self.client.post(self.url(path)))).await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(self.authed(self.client.patch(self.url(path))).json(&body)).await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.send(self.authed(self.client.delete(self.url(path)))).await
    }

    async fn multipart(&self, path: &str, form: reqwest::multipart::Form) -> Resp {
        self.send(self.authed(self.client.post(self.url(path))).multipart(form)).await
    }

    /// No response body ever contained one of these.
    fn assert_never_returned(&self, secrets: &[&str]) {
        let seen = self.seen.lock().unwrap();
        assert!(seen.len() > 5, "the scan saw the responses");
        for body in seen.iter() {
            for s in secrets {
                assert!(!body.contains(s), "a response contains a secret: {body}");
            }
        }
    }

    async fn stop(mut self) {
        self.stop.raise();
        for t in self.tasks.drain(..) {
            tokio::time::timeout(Duration::from_secs(30), t).await.expect("stops in time").unwrap();
        }
    }
}

fn dovecot(separator: char) -> Dovecot {
    Dovecot::builder()
        .separator(separator)
        .user(ALICE, USER_PW)
        .user(BOB, USER_PW)
        .user(CAROL, USER_PW)
        .master_user(ADMIN, ADMIN_PW)
        .start()
        .expect("start dovecot")
}

fn endpoint_body(name: &str, d: &Dovecot, password: &str) -> Value {
    json!({
        "name": name, "host": d.host(), "port": d.imaps_port(), "security": "tls",
        "admin": ADMIN, "password": password, "impersonation": "master-user",
        "test_mailbox": ALICE, "ca_pem": d.ca_pem(),
    })
}

fn csv_part(text: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("users.csv").mime_str("text/csv").unwrap()
}

async fn wait_for_status(api: &Server, batch: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let v = api.get(&format!("/api/v1/batches/{batch}")).await.expect(200).json();
        if v["status"] == want {
            return v;
        }
        assert!(!["Failed", "SyncedWithErrors", "CompletedWithErrors"].contains(&v["status"].as_str().unwrap()), "{v}");
        assert!(Instant::now() < deadline, "batch {batch} never became {want}: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_from_endpoints_to_report_over_http() {
    let src = dovecot('/');
    let dst = dovecot('.');
    src.seed(ALICE, &fidelity_corpus(60, 11)).unwrap();
    src.seed(BOB, &fidelity_corpus(25, 12)).unwrap();
    let api = Server::start().await;

    // Endpoints: tested, then created; never a password in what comes back.
    let v = api.post("/api/v1/endpoints", endpoint_body("src", &src, ADMIN_PW)).await.expect(201).json();
    assert_eq!(v["endpoint"]["name"], "src");
    assert_eq!(v["endpoint"]["verified"], true);
    assert_eq!(v["endpoint"]["has_ca"], true);
    assert_eq!(v["test"]["passed"], true);
    assert!(v["test"]["steps"].as_array().unwrap().iter().any(|s| s["step"] == "open-inbox"));
    api.post("/api/v1/endpoints", endpoint_body("dst", &dst, ADMIN_PW)).await.expect(201);
    api.post("/api/v1/endpoints", endpoint_body("SRC", &src, ADMIN_PW)).await.expect_error(409, "already_exists");

    // A wrong password: the test says so and nothing is stored.
    let e = api.post("/api/v1/endpoints", endpoint_body("bad", &src, WRONG_PW)).await.expect_error(422, "endpoint_test_failed");
    let steps = e["error"]["report"]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["step"] == "login" && s["ok"] == false), "{e}");
    api.get("/api/v1/endpoints/bad").await.expect_error(404, "not_found");

    // Testing settings stores nothing and answers with the report.
    let mut settings = endpoint_body("x", &src, WRONG_PW);
    settings.as_object_mut().unwrap().remove("name");
    let t = api.post("/api/v1/endpoints/test", settings.clone()).await.expect(200).json();
    assert_eq!(t["passed"], false);
    settings["password"] = json!(ADMIN_PW);
    let t = api.post("/api/v1/endpoints/test", settings).await.expect(200).json();
    assert_eq!(t["passed"], true, "{t}");
    assert_eq!(t["report"]["writable"], true);
    let t = api.post_empty("/api/v1/endpoints/src/test").await.expect(200).json();
    assert_eq!(t["passed"], true, "{t}");

    // Set: limits only need no test; a broken password changes nothing.
    let v = api.patch("/api/v1/endpoints/src", json!({"max_concurrent_migrations": 5, "max_concurrent_incremental": 2})).await.expect(200).json();
    assert_eq!(v["endpoint"]["max_concurrent_migrations"], 5);
    assert!(v["test"].is_null());
    api.patch("/api/v1/endpoints/src", json!({"password": WRONG_PW})).await.expect_error(422, "endpoint_test_failed");
    let v = api.get("/api/v1/endpoints/src").await.expect(200).json();
    assert_eq!(v["verified"], true);
    assert!(v.get("password").is_none());
    assert_eq!(api.get("/api/v1/endpoints").await.expect(200).json().as_array().unwrap().len(), 2);

    // A bad CSV: every bad row, nothing stored.
    let bad = format!("EmailAddress,UserName,Password\nnot-an-address,,\n{ALICE},,\n{ALICE},,\n");
    let form = reqwest::multipart::Form::new()
        .text("name", "wave1")
        .text("source", "src")
        .text("target", "dst")
        .part("csv", csv_part(&bad));
    let e = api.multipart("/api/v1/batches", form).await.expect_error(400, "invalid_csv");
    let rows = e["error"]["rows"].as_array().unwrap();
    let lines: Vec<u64> = rows.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert!(lines.contains(&2) && lines.contains(&4), "{e}");
    assert!(rows.iter().all(|r| r["reason"].as_str().is_some_and(|s| !s.is_empty())));
    api.get("/api/v1/batches/wave1").await.expect_error(404, "not_found");

    // The batch, uploaded as multipart/form-data with options as fields.
    let form = reqwest::multipart::Form::new()
        .text("name", "wave1")
        .text("source", "src")
        .text("target", "dst")
        .text("exclude_folders", "Nothing/Here")
        .text("incremental_interval", "6h")
        .part("csv", csv_part(&format!("EmailAddress,UserName,Password\n{ALICE},,\n{BOB},,\n")));
    let v = api.multipart("/api/v1/batches", form).await.expect(201).json();
    assert_eq!(v["status"], "Created");
    assert_eq!(v["user_count"], 2);
    assert_eq!(v["users"].as_array().unwrap().len(), 2);
    assert_eq!(v["options"]["incremental_interval_secs"], 6 * 3600);
    api.delete("/api/v1/endpoints/src").await.expect_error(409, "in_use");
    api.post_empty("/api/v1/batches/wave1/sync").await.expect_error(409, "invalid_state");
    api.post_empty("/api/v1/batches/wave1/stop").await.expect_error(409, "invalid_state");
    assert_eq!(api.get("/api/v1/batches").await.expect(200).json()[0]["name"], "wave1");

    // Start: the workers of the server do the work.
    let v = api.post_empty("/api/v1/batches/wave1/start").await.expect(200).json();
    assert!(["Syncing", "Synced"].contains(&v["status"].as_str().unwrap()), "{v}");
    let v = wait_for_status(&api, "wave1", "Synced").await;
    let alice = v["users"].as_array().unwrap().iter().find(|u| u["email"] == ALICE).unwrap().clone();
    assert_eq!(alice["items_source"], 60);
    assert_eq!(alice["items_synced"], 60);
    assert!(alice["last_sync"].is_string());

    // Users: paging and detail.
    let p = api.get("/api/v1/users?batch=wave1&limit=1").await.expect(200).json();
    assert_eq!(p["users"].as_array().unwrap().len(), 1);
    assert_eq!(p["next_offset"], 1);
    let p = api.get("/api/v1/users?batch=wave1&limit=1&offset=1").await.expect(200).json();
    assert_eq!(p["users"].as_array().unwrap().len(), 1);
    assert!(p["next_offset"].is_null());
    let p = api.get("/api/v1/users?status=Synced").await.expect(200).json();
    assert_eq!(p["users"].as_array().unwrap().len(), 2);
    let d = api.get(&format!("/api/v1/users/{ALICE}")).await.expect(200).json();
    assert_eq!(d["email"], ALICE);
    assert!(!d["folders"].as_array().unwrap().is_empty());
    assert!(d["skipped_items"].as_array().unwrap().is_empty());

    // Verify proves the copy.
    let r = api.post_empty("/api/v1/batches/wave1/verify").await.expect(200).json();
    assert_eq!(r["clean"], true, "{r}");
    assert_eq!(r["messages_source"], 85);
    assert_eq!(r["matched"], 85);
    let r = api.post_empty(&format!("/api/v1/batches/wave1/verify?user={BOB}")).await.expect(200).json();
    assert_eq!(r["matched"], 25);

    let w = api.get("/api/v1/workers").await.expect(200).json();
    assert!(w["workers"].is_array() && w["leases"].is_array(), "{w}");

    // Complete, then the reports.
    api.post_empty("/api/v1/batches/wave1/complete").await.expect(200);
    wait_for_status(&api, "wave1", "Completed").await;
    api.post_empty("/api/v1/batches/wave1/sync").await.expect_error(409, "invalid_state");
    api.post_empty("/api/v1/batches/wave1/complete").await.expect_error(409, "invalid_state");

    let csv = api.get("/api/v1/batches/wave1/report?format=csv").await.expect(200);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let mut lines = csv.text.lines();
    assert!(lines.next().unwrap().starts_with("EmailAddress,Status,ItemsInSource,ItemsSynced"));
    assert!(csv.text.lines().any(|l| l.starts_with(&format!("{ALICE},Completed,60,60,0,"))), "{}", csv.text);
    assert!(csv.text.lines().any(|l| l.starts_with(&format!("{BOB},Completed,25,25,0,"))), "{}", csv.text);
    let j = api.get("/api/v1/batches/wave1/report?format=json").await.expect(200).json();
    assert_eq!(j["batch"]["status"], "Completed");
    assert_eq!(j["users"].as_array().unwrap().len(), 2);
    let default = api.get("/api/v1/batches/wave1/report").await.expect(200).json();
    assert_eq!(default["batch"]["name"], "wave1");
    api.get("/api/v1/batches/wave1/report?format=xml").await.expect_error(400, "invalid_input");

    // A second batch as JSON (the CSV as text); an address already in an
    // active batch is a conflict; adding users; removing.
    let body = json!({"name": "wave2", "source": "src", "target": "dst",
        "csv": format!("EmailAddress,UserName,Password\n{CAROL},,\n")});
    let v = api.post("/api/v1/batches", body).await.expect(201).json();
    assert_eq!(v["users"][0]["email"], CAROL);
    let e = api.post("/api/v1/batches/wave2/users", json!({"csv": format!("EmailAddress\n{CAROL}\n")})).await;
    assert_eq!(e.status, 409, "{}", e.text);
    let form = reqwest::multipart::Form::new().part("csv", csv_part("EmailAddress\nnobody\n"));
    let e = api.multipart("/api/v1/batches/wave2/users", form).await.expect_error(400, "invalid_csv");
    assert_eq!(e["error"]["rows"][0]["line"], 2);
    api.post("/api/v1/batches/wave2/users", json!({"csv": format!("EmailAddress\n{ALICE}\n")})).await.expect(200);
    let v = api.delete("/api/v1/batches/wave2").await.expect(200).json();
    assert_eq!(v["removed"], "wave2");
    api.get("/api/v1/batches/wave2").await.expect_error(404, "not_found");
    api.delete("/api/v1/batches/wave2").await.expect_error(404, "not_found");

    api.assert_never_returned(&[ADMIN_PW, WRONG_PW, USER_PW, &api.token.clone()]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_needs_a_live_token() {
    let api = Server::start().await;
    let c = &api.client;

    // No token, a wrong one, another scheme: 401 with the error shape.
    for rb in [
        c.get(api.url("/api/v1/endpoints")),
        c.get(api.url("/api/v1/endpoints")).bearer_auth("mf_not-a-token"),
        c.get(api.url("/api/v1/endpoints")).basic_auth("admin", Some("x")),
        c.get(api.url("/api/v1/openapi.json")),
        c.post(api.url("/api/v1/batches")),
        c.get(api.url("/api/v1/no/such/route")),
    ] {
        let r = api.send(rb).await;
        assert!(r.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        r.expect_error(401, "unauthorized");
    }
    // Health and the dashboard's page carry no data and need none.
    let h = api.send(c.get(api.url("/healthz"))).await.expect(200).json();
    assert_eq!(h["status"], "ok");
    let page = api.send(c.get(api.url("/"))).await.expect(200);
    assert!(page.text.contains("dashboard"));

    api.get("/api/v1/endpoints").await.expect(200);
    let record = api.store.tokens().await.unwrap().into_iter().find(|t| t.name == "tests").unwrap();
    assert!(record.last_used_at.is_some(), "a use is recorded");
    // Revoked: refused from now on.
    api.store.revoke_token("tests").await.unwrap();
    api.get("/api/v1/endpoints").await.expect_error(401, "unauthorized");
    api.assert_never_returned(&[&api.token.clone()]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() {
    let api = Server::start().await;

    // Unknown fields, wrong types, wrong content types, too large bodies.
    let e = api.post("/api/v1/endpoints", json!({"name": "a", "host": "127.0.0.1", "passwrd": "x"})).await.expect_error(400, "invalid_input");
    assert!(e["error"]["message"].as_str().unwrap().contains("passwrd"), "{e}");
    api.post("/api/v1/endpoints", json!({"name": "a", "host": "127.0.0.1", "port": "x"})).await.expect_error(400, "invalid_input");
    api.send(api.authed(api.client.post(api.url("/api/v1/endpoints"))).body("name=a")).await.expect_error(415, "unsupported_media_type");
    api.send(api.authed(api.client.post(api.url("/api/v1/endpoints")).header("content-type", "application/json")).body("{not json"))
        .await
        .expect_error(400, "invalid_input");
    let huge = json!({"name": "a", "host": "h", "ca_pem": "x".repeat(2 * 1024 * 1024)});
    api.post("/api/v1/endpoints", huge).await.expect_error(413, "payload_too_large");
    api.send(api.authed(api.client.post(api.url("/api/v1/batches"))).body("x")).await.expect_error(415, "unsupported_media_type");

    // Rules of `endpoint create`.
    api.post("/api/v1/endpoints", json!({"name": "a", "host": "127.0.0.1", "security": "none", "admin": ADMIN, "password": ADMIN_PW}))
        .await
        .expect_error(400, "invalid_input");
    api.post("/api/v1/endpoints", json!({"name": "a", "host": "127.0.0.1", "admin": ADMIN, "test_mailbox": ALICE}))
        .await
        .expect_error(400, "invalid_input");
    api.post("/api/v1/endpoints", json!({"name": "bad name!", "host": "127.0.0.1", "admin": ADMIN, "password": ADMIN_PW}))
        .await
        .expect_error(400, "invalid_input");
    api.post("/api/v1/endpoints", json!({"name": "a", "host": "127.0.0.1", "impersonation": "authzid", "master_separator": "#", "admin": ADMIN, "password": ADMIN_PW}))
        .await
        .expect_error(400, "invalid_input");

    // A server that is not there: the test fails at `connect` (422, with the report).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = json!({"name": "gone", "host": "127.0.0.1", "port": closed, "admin": ADMIN, "password": ADMIN_PW, "test_mailbox": ALICE});
    let e = api.post("/api/v1/endpoints", body.clone()).await.expect_error(422, "endpoint_test_failed");
    assert!(e["error"]["report"]["steps"].as_array().unwrap().iter().any(|s| s["step"] == "connect" && s["ok"] == false), "{e}");
    // Stored unverified with skip_verification; its test then fails with 200 + passed false.
    let mut skip = body.clone();
    skip["skip_verification"] = json!(true);
    let v = api.post("/api/v1/endpoints", skip).await.expect(201).json();
    assert_eq!(v["endpoint"]["verified"], false);
    assert!(v["test"].is_null());
    let t = api.post_empty("/api/v1/endpoints/gone/test").await.expect(200).json();
    assert_eq!(t["passed"], false);
    api.post_empty("/api/v1/endpoints/gone/test?test_mailbox=nope").await.expect_error(400, "invalid_input");
    api.post_empty("/api/v1/endpoints/nope/test").await.expect_error(404, "not_found");
    api.patch("/api/v1/endpoints/nope", json!({"port": 1})).await.expect_error(404, "not_found");
    api.patch("/api/v1/endpoints/gone", json!({"port": 0})).await.expect_error(400, "invalid_input");

    // Batches: the CSV is checked first, with every bad row.
    let body = json!({"name": "w", "source": "gone", "target": "gone",
        "csv": "EmailAddress,UserName,Password,UserRoot\nalice@example.test,,,x\nbad,,,\n"});
    let e = api.post("/api/v1/batches", body).await.expect_error(400, "invalid_csv");
    assert!(!e["error"]["rows"].as_array().unwrap().is_empty(), "{e}");
    let body = json!({"name": "w", "source": "gone", "target": "missing", "csv": "EmailAddress\nalice@example.test\n"});
    api.post("/api/v1/batches", body).await.expect_error(404, "not_found");
    let form = reqwest::multipart::Form::new().text("name", "w").text("source", "gone").text("target", "gone");
    api.multipart("/api/v1/batches", form).await.expect_error(400, "invalid_input");
    let form = reqwest::multipart::Form::new().text("name", "w").text("colour", "blue");
    api.multipart("/api/v1/batches", form).await.expect_error(400, "invalid_input");
    let body = json!({"name": "w", "source": "gone", "target": "gone", "csv": "EmailAddress\na@b.c\n", "start_after": "whenever"});
    api.post("/api/v1/batches", body).await.expect_error(400, "invalid_input");
    for action in ["start", "stop", "sync", "complete", "verify", "users"] {
        let r = if action == "users" {
            api.post("/api/v1/batches/nope/users", json!({"csv": "EmailAddress\na@b.c\n"})).await
        } else {
            api.post_empty(&format!("/api/v1/batches/nope/{action}")).await
        };
        r.expect_error(404, "not_found");
    }
    api.get("/api/v1/batches/nope/report").await.expect_error(404, "not_found");
    api.delete("/api/v1/batches/nope").await.expect_error(404, "not_found");

    // Users and paging.
    api.get("/api/v1/users?limit=0").await.expect_error(400, "invalid_input");
    api.get("/api/v1/users?limit=5000").await.expect_error(400, "invalid_input");
    api.get("/api/v1/users?status=Bogus").await.expect_error(400, "invalid_input");
    api.get("/api/v1/users?limit=abc").await.expect_error(400, "invalid_input");
    api.get("/api/v1/users?colour=blue").await.expect_error(400, "invalid_input");
    api.get("/api/v1/users?batch=nope").await.expect_error(404, "not_found");
    let p = api.get("/api/v1/users").await.expect(200).json();
    assert_eq!(p["users"], json!([]));
    assert_eq!(p["limit"], 100);
    api.get("/api/v1/users/nobody@example.test").await.expect_error(404, "not_found");

    // Unknown routes and methods keep the error shape (405 with Allow).
    api.get("/api/v1/nothing").await.expect_error(404, "not_found");
    let r = api.send(api.authed(api.client.put(api.url("/api/v1/endpoints")))).await;
    assert!(r.headers.contains_key("allow"));
    r.expect_error(405, "method_not_allowed");

    // Removing: an endpoint no batch uses goes.
    assert_eq!(api.delete("/api/v1/endpoints/GONE").await.expect(200).json()["removed"], "gone");
    api.delete("/api/v1/endpoints/gone").await.expect_error(404, "not_found");

    api.assert_never_returned(&[ADMIN_PW, &api.token.clone()]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_api() {
    let api = Server::start().await;
    let doc = api.get("/api/v1/openapi.json").await.expect(200).json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc["security"][0]["bearer"], json!([]));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/api/v1/endpoints", "get"),
        ("/api/v1/endpoints", "post"),
        ("/api/v1/endpoints/test", "post"),
        ("/api/v1/endpoints/{name}", "get"),
        ("/api/v1/endpoints/{name}", "patch"),
        ("/api/v1/endpoints/{name}", "delete"),
        ("/api/v1/endpoints/{name}/test", "post"),
        ("/api/v1/batches", "get"),
        ("/api/v1/batches", "post"),
        ("/api/v1/batches/{name}", "get"),
        ("/api/v1/batches/{name}", "delete"),
        ("/api/v1/batches/{name}/start", "post"),
        ("/api/v1/batches/{name}/stop", "post"),
        ("/api/v1/batches/{name}/sync", "post"),
        ("/api/v1/batches/{name}/complete", "post"),
        ("/api/v1/batches/{name}/users", "post"),
        ("/api/v1/batches/{name}/report", "get"),
        ("/api/v1/batches/{name}/verify", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users/{email}", "get"),
        ("/api/v1/workers", "get"),
    ] {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} is documented"))[method];
        assert!(op.is_object(), "{method} {path} is documented");
        if path != "/healthz" {
            assert!(op["responses"]["401"].is_object(), "{method} {path} documents 401");
        }
    }
    assert_eq!(paths["/healthz"]["get"]["security"], json!([{}]));
    let create = &paths["/api/v1/batches"]["post"]["requestBody"]["content"];
    assert!(create["multipart/form-data"].is_object() && create["application/json"].is_object());
    // The password is write-only and no response schema has one.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert_eq!(schemas["EndpointCreate"]["properties"]["password"]["writeOnly"], true);
    assert!(schemas["EndpointView"]["properties"].get("password").is_none());
    api.stop().await;
}
