//! Hostile input at the HTTP layer (issue #8): oversized and malformed
//! token requests, and slowloris connections. Each gets a clear 4xx or a
//! closed connection within a bounded time, and the server keeps serving
//! others. The bounds are generous: the requirement is itself a bound.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tessera_server::config::Config;
use tessera_testkit::raw_http::{self, RawAnswer, RawTls};
use tessera_testkit::{Backend, TestApp, TestDb};

/// Every hostile request is answered (or its connection closed) within this.
pub const ANSWER_BOUND: Duration = Duration::from_secs(5);
/// The test server's client timeouts (head, body, TLS handshake), in seconds.
const CLIENT_TIMEOUT_SECS: u64 = 2;
/// Peak memory of the whole test process after the hostile bursts.
pub const MEMORY_BOUND_KIB: u64 = 1024 * 1024;

/// A server with tenant `acme` and a secret client.
pub struct Target {
    pub app: TestApp,
    pub id: String,
    pub secret: String,
}

pub async fn target(backend: Backend) -> Option<Target> {
    target_with(backend, |_| {}).await
}

/// [`target`], with more configuration.
pub async fn target_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<Target> {
    let db = std::sync::Arc::new(TestDb::new(backend)?);
    let app = TestApp::spawn_on(db, |c| {
        c.http.client_request_timeout_secs = CLIENT_TIMEOUT_SECS;
        c.http.body_timeout_secs = CLIENT_TIMEOUT_SECS;
        c.http.tls_handshake_timeout_secs = CLIENT_TIMEOUT_SECS;
        tweak(c);
    })
    .await;
    app.create_tenant("acme", json!({})).await;
    let (id, secret) = app.create_secret_client("acme", json!({"scope": "read"})).await;
    Some(Target { app, id, secret })
}

impl Target {
    pub fn basic(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.id, self.secret)))
    }

    /// A normal token request of the secret client, sent by `client`.
    pub async fn token_request_with(&self, client: &reqwest::Client) -> reqwest::Response {
        client
            .post(self.app.url("/t/acme/oauth2/token"))
            .basic_auth(&self.id, Some(&self.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap()
    }

    /// A normal token request on a new connection succeeds, promptly.
    pub async fn still_serving(&self) {
        let start = Instant::now();
        let res = self.token_request_with(&tessera_testkit::https_client()).await;
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
        assert!(start.elapsed() < ANSWER_BOUND, "took {:?}", start.elapsed());
    }
}

/// A raw request on its own connection: the answer and how long it took.
pub async fn exchange(addr: SocketAddr, request: Vec<u8>) -> (RawAnswer, Duration) {
    actix_web::rt::task::spawn_blocking(move || {
        let mut conn = RawTls::connect(addr);
        let start = Instant::now();
        // The server may answer and close before reading it all.
        conn.send(&request);
        (conn.read_answer(), start.elapsed())
    })
    .await
    .unwrap()
}

/// `POST /t/acme/oauth2/token` with these headers (plus Host, Connection and,
/// unless `chunked`, Content-Length) and body.
pub fn token_request(headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut req = b"POST /t/acme/oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding")) {
        req.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    req
}

fn expect(what: &str, got: &(RawAnswer, Duration), status: Option<u16>, error: &str) {
    let (answer, took) = got;
    assert_eq!(answer.status(), status, "{what}: {answer:?}");
    assert_eq!(answer.error(), error, "{what}: {answer:?}");
    assert!(*took < ANSWER_BOUND, "{what}: took {took:?}");
}

async fn oversized_requests_are_refused(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let basic = t.basic();
    let form: &[u8] = b"application/x-www-form-urlencoded";

    // A declared length over the cap: refused before any of it is read.
    let mut head = token_request(&[("Authorization", basic.as_bytes()), ("Content-Type", form)], b"");
    let at = head.windows(17).position(|w| w == b"Content-Length: 0").unwrap();
    head.splice(at..at + 17, b"Content-Length: 10000000".iter().copied());
    let got = exchange(t.app.addr, head).await;
    expect("declared 10 MB", &got, Some(413), "invalid_request");
    t.still_serving().await;

    // Chunked, no length, 80 KiB against the 64 KiB cap.
    let mut body = Vec::new();
    for _ in 0..10 {
        body.extend_from_slice(b"2000\r\n");
        body.extend_from_slice(&[b'a'; 0x2000]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let chunked = token_request(
        &[
            ("Authorization", basic.as_bytes()),
            ("Content-Type", form),
            ("Transfer-Encoding", b"chunked"),
        ],
        &body,
    );
    let got = exchange(t.app.addr, chunked).await;
    expect("chunked 80 KiB", &got, Some(413), "invalid_request");
    t.still_serving().await;

    // A 64 KiB Authorization header: within actix's 128 KiB head, so it
    // reaches the Basic parser, which finds no credentials in it.
    let huge = format!("Basic {}", "A".repeat(64 * 1024));
    let req = token_request(
        &[("Authorization", huge.as_bytes()), ("Content-Type", form)],
        b"grant_type=client_credentials",
    );
    let got = exchange(t.app.addr, req).await;
    expect("64 KiB header", &got, Some(401), "invalid_client");
    t.still_serving().await;

    // A 200 KiB head: over actix's 128 KiB.
    let huge = format!("Basic {}", "A".repeat(200 * 1024));
    let got = exchange(t.app.addr, token_request(&[("Authorization", huge.as_bytes())], b"")).await;
    expect("200 KiB header", &got, Some(431), "");
    t.still_serving().await;

    // Many headers: over actix's 96.
    let names: Vec<String> = (0..200).map(|i| format!("X-Hostile-{i}")).collect();
    let many: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"v"[..])).collect();
    let got = exchange(t.app.addr, token_request(&many, b"")).await;
    expect("200 headers", &got, Some(431), "");
    t.still_serving().await;

    // A burst of each leaves memory bounded.
    for _ in 0..50 {
        let huge = format!("Basic {}", "A".repeat(30 * 1024));
        exchange(t.app.addr, token_request(&[("Authorization", huge.as_bytes())], b"x")).await;
    }
    let peak = raw_http::resident_kib(true);
    eprintln!("peak resident memory after the burst: {peak} KiB");
    assert!(peak < MEMORY_BOUND_KIB, "peak resident memory {peak} KiB");
    t.still_serving().await;
}

async fn malformed_forms_are_invalid_request(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let basic = t.basic();
    let form: &[u8] = b"application/x-www-form-urlencoded";
    let cases: &[(&str, &[u8], &[u8])] = &[
        (
            "percent-encoded invalid UTF-8",
            form,
            b"grant_type=client_credentials&scope=%FF%FE",
        ),
        (
            "raw invalid UTF-8",
            form,
            b"grant_type=client_credentials&scope=\xff\xfe",
        ),
        ("invalid UTF-8 in a name", form, b"grant_type=client_credentials&\xff=1"),
        ("%zz", form, b"grant_type=client_credentials&scope=%zz"),
        ("truncated %", form, b"grant_type=client_credentials&scope=%"),
        ("truncated %0", form, b"grant_type=client_credentials&scope=%0"),
        ("%00", form, b"grant_type=client_credentials&scope=read%00"),
        (
            "repeated parameter",
            form,
            b"grant_type=client_credentials&grant_type=client_credentials",
        ),
        (
            "JSON body",
            b"application/json",
            br#"{"grant_type":"client_credentials"}"#,
        ),
        ("text body", b"text/plain", b"grant_type=client_credentials"),
        (
            "multipart body",
            b"multipart/form-data; boundary=x",
            b"--x\r\n\r\n--x--",
        ),
        (
            "content type parameter soup",
            b"application/x-www-form-urlencoded; charset=\xff",
            b"grant_type=client_credentials",
        ),
    ];
    for (what, content_type, body) in cases {
        let req = token_request(
            &[("Authorization", basic.as_bytes()), ("Content-Type", content_type)],
            body,
        );
        let got = exchange(t.app.addr, req).await;
        expect(what, &got, Some(400), "invalid_request");
    }
    // No content type at all.
    let req = token_request(&[("Authorization", basic.as_bytes())], b"grant_type=client_credentials");
    expect(
        "no content type",
        &exchange(t.app.addr, req).await,
        Some(400),
        "invalid_request",
    );

    // Basic credentials that are not UTF-8, not base64, or not id:secret.
    let not_utf8 = format!("Basic {}", STANDARD.encode(b"\xff\xfe:\xc0\xaf"));
    let escaped = format!("Basic {}", STANDARD.encode(format!("{}:%zz", t.id)));
    let basics: &[(&str, &[u8])] = &[
        ("Basic not UTF-8", not_utf8.as_bytes()),
        ("Basic not base64", b"Basic !!!not-base64!!!"),
        ("Basic bad percent-encoding", escaped.as_bytes()),
        ("Basic header bytes not ASCII", b"Basic \xff\xfe"),
    ];
    for (what, header) in basics {
        let req = token_request(
            &[("Authorization", header), ("Content-Type", form)],
            b"grant_type=client_credentials",
        );
        let got = exchange(t.app.addr, req).await;
        expect(what, &got, Some(401), "invalid_client");
    }
    t.still_serving().await;
}

/// Connections that send their head a byte at a time, never finish their
/// body, or never finish the TLS handshake are closed at the configured
/// client timeouts, while other clients are served.
async fn slow_clients_are_cut_off(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let addr = t.app.addr;
    let cut_off = Duration::from_secs(CLIENT_TIMEOUT_SECS) + ANSWER_BOUND;

    // The head, one byte every 200 ms: 40 s if the server waited for it all.
    let slow_head = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = RawTls::connect(addr);
        let start = Instant::now();
        let head = token_request(&[("X-Padding", &[b'p'; 160])], b"");
        let all_sent = conn.trickle(&head, Duration::from_millis(200), Duration::from_secs(60));
        let closed = conn.closed_by_server();
        (all_sent, closed, start.elapsed())
    });
    // The body: 10 of 100 declared bytes, then nothing.
    let basic = t.basic();
    let slow_body = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = RawTls::connect(addr);
        let start = Instant::now();
        let mut req = token_request(
            &[
                ("Authorization", basic.as_bytes()),
                ("Content-Type", b"application/x-www-form-urlencoded"),
            ],
            &[b'a'; 100],
        );
        req.truncate(req.len() - 90);
        conn.send(&req);
        (conn.read_answer(), start.elapsed())
    });
    // 200 connections that never start the TLS handshake.
    let idle: Vec<_> = (0..200).map(|_| raw_http::idle_tcp(addr)).collect();

    // Meanwhile, others are served promptly.
    for _ in 0..3 {
        t.still_serving().await;
    }

    let (all_sent, closed, took) = slow_head.await.unwrap();
    assert!(
        !all_sent && closed,
        "the slow head was not cut off (all sent: {all_sent}, closed: {closed})"
    );
    assert!(took < cut_off, "slow head cut off after {took:?}");

    let (answer, took) = slow_body.await.unwrap();
    assert_eq!(answer.status(), Some(408), "{answer:?}");
    assert_eq!(answer.error(), "invalid_request", "{answer:?}");
    assert!(took < cut_off, "slow body cut off after {took:?}");

    let start = Instant::now();
    let all_closed = actix_web::rt::task::spawn_blocking(move || idle.into_iter().all(raw_http::closed_by_server))
        .await
        .unwrap();
    assert!(all_closed, "idle pre-handshake connections were left open");
    assert!(
        start.elapsed() < cut_off,
        "idle connections closed after {:?}",
        start.elapsed()
    );
    t.still_serving().await;
}

/// A body that arrives after the head, over HTTP/1.1, is read as soon as
/// it arrives: the handler's first look at the body leaves no waker behind
/// (http/body.rs, `FirstLook`), and the connection's socket readiness must
/// bring it back, not the body deadline.
async fn a_late_body_is_read_when_it_arrives(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let basic = t.basic();
    let body = b"grant_type=client_credentials";
    let request = token_request(
        &[
            ("Authorization", basic.as_bytes()),
            ("Content-Type", b"application/x-www-form-urlencoded"),
        ],
        body,
    );
    let head_len = request.len() - body.len();
    let addr = t.app.addr;
    let (answer, took) = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = RawTls::connect(addr);
        let start = Instant::now();
        assert!(conn.send(&request[..head_len]));
        std::thread::sleep(Duration::from_millis(300));
        assert!(conn.send(&request[head_len..]));
        (conn.read_answer(), start.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(answer.status(), Some(200), "{answer:?}");
    // The body deadline is CLIENT_TIMEOUT_SECS (2 s): well before it.
    assert!(took < Duration::from_millis(1500), "answered after {took:?}");
}

/// Token requests over HTTP/2 (the listeners offer it by ALPN): there the
/// body comes from another task, and the handler's first look at it is an
/// ordinary one.
async fn token_requests_over_http2_are_answered(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let mut tls = tessera_testkit::client_config_builder().with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let res = t.token_request_with(&client).await;
        assert_eq!(res.version(), reqwest::Version::HTTP_2);
        assert_eq!(res.status(), 200, "{:?}", res.text().await);
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "took {:?}",
            start.elapsed()
        );
    }
}

/// After a kept-alive connection's first answer, answers wait for the
/// worker's round of ready requests (http/answer_round.rs): each still
/// comes back, in turn and promptly, with a token of its own.
async fn a_kept_alive_connections_later_answers_come_back(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let body = "grant_type=client_credentials";
    let request = format!(
        "POST /t/acme/oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        t.basic(),
        body.len()
    )
    .into_bytes();
    let addr = t.app.addr;
    let answers = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = RawTls::connect(addr);
        (0..4)
            .map(|_| {
                let start = Instant::now();
                assert!(conn.send(&request));
                (conn.read_answer(), start.elapsed())
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut tokens = std::collections::HashSet::new();
    for (i, (answer, took)) in answers.iter().enumerate() {
        let RawAnswer::Response { status: 200, body } = answer else {
            panic!("answer {i}: {answer:?}");
        };
        assert!(*took < ANSWER_BOUND, "answer {i} took {took:?}");
        let token: serde_json::Value = serde_json::from_str(body).unwrap();
        tokens.insert(token["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens.len(), 4, "four answers, four tokens");
}

backend_tests!(
    oversized_requests_are_refused,
    malformed_forms_are_invalid_request,
    slow_clients_are_cut_off,
    a_late_body_is_read_when_it_arrives,
    token_requests_over_http2_are_answered,
    a_kept_alive_connections_later_answers_come_back,
);
