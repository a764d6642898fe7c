//! Path tricks in tenant ids (issue #8): `..`, encoded slashes and dots,
//! NUL, look-alikes, over-long and upper-case ids, on the public endpoints
//! and the admin API. Each is a 404 with an RFC 6749-shaped body, decided by
//! the id's syntax before any cache or database lookup.

use crate::hostile_http::{exchange, target, ANSWER_BOUND};
use tessera_testkit::raw_http::RawAnswer;
use tessera_testkit::{Backend, BOOTSTRAP};

/// Tenant ids no tenant can have (tenant `acme` exists), as they appear in a path.
fn tricks() -> Vec<String> {
    let mut ids: Vec<String> = [
        "..",
        ".",
        "%2e%2e",
        "%2E%2E",
        ".%2e",
        "acme%2F..%2Facme",
        "acme%2f",
        "%2Facme",
        "acme%5C..",
        "acme%00",
        "%00",
        "acme%0A",
        "ACME",
        "Acme",
        // Cyrillic а (U+0430) for the Latin a; a fullwidth ａ (U+FF41).
        "%D0%B0cme",
        "%EF%BD%81cme",
        // Invalid UTF-8.
        "acme%FF",
        "acme;x=1",
        "acme%20",
        "-acme",
        "acme-",
        "%",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    ids.push("a".repeat(64));
    ids.push("a".repeat(16 * 1024));
    ids
}

/// A public endpoint call: method, path, headers, body.
type PublicCall<'a> = (&'a str, String, &'a [(&'a str, &'a str)], &'a str);

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    req.into_bytes()
}

fn assert_not_found(what: &str, answer: &RawAnswer) {
    assert_eq!(answer.status(), Some(404), "{what}: {answer:?}");
    let RawAnswer::Response { body, .. } = answer else {
        unreachable!()
    };
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    assert_eq!(body["error"], "not_found", "{what}: {body}");
    assert!(body["error_description"].is_string(), "{what}: {body}");
    let members: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(members, ["error", "error_description"], "{what}: {body}");
}

async fn cache_misses(app: &tessera_testkit::TestApp) -> u64 {
    let text = reqwest::get(&app.metrics_url).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("tessera_tenant_cache_misses_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn tenant_path_tricks_are_404_without_a_lookup(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    let bearer = format!("Bearer {BOOTSTRAP}");
    let basic = t.basic();
    let form_headers = [
        ("Authorization", basic.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let misses_before = cache_misses(&t.app).await;
    for id in tricks() {
        let public: [PublicCall<'_>; 5] = [
            (
                "POST",
                format!("/t/{id}/oauth2/token"),
                &form_headers,
                "grant_type=client_credentials",
            ),
            ("POST", format!("/t/{id}/oauth2/introspect"), &form_headers, "token=x"),
            ("GET", format!("/t/{id}/jwks.json"), &[], ""),
            (
                "GET",
                format!("/t/{id}/.well-known/oauth-authorization-server"),
                &[],
                "",
            ),
            (
                "GET",
                format!("/.well-known/oauth-authorization-server/t/{id}"),
                &[],
                "",
            ),
        ];
        for (method, path, headers, body) in public {
            let (answer, took) = exchange(t.app.addr, request(method, &path, headers, body)).await;
            assert_not_found(&format!("{method} {path}"), &answer);
            assert!(took < ANSWER_BOUND, "{path}: took {took:?}");
        }
        let admin = [
            ("GET", format!("/admin/v1/tenants/{id}"), ""),
            ("GET", format!("/admin/v1/tenants/{id}/clients"), ""),
            ("PATCH", format!("/admin/v1/tenants/{id}"), "{}"),
            ("DELETE", format!("/admin/v1/tenants/{id}"), ""),
            ("POST", format!("/admin/v1/tenants/{id}/clients"), "{}"),
        ];
        for (method, path, body) in admin {
            let headers = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
            let (answer, took) = exchange(t.app.addr, request(method, &path, &headers, body)).await;
            assert_not_found(&format!("{method} {path}"), &answer);
            assert!(took < ANSWER_BOUND, "{path}: took {took:?}");
        }
    }
    // None of them reached the tenant cache (a miss there is a database read).
    assert_eq!(
        cache_misses(&t.app).await,
        misses_before,
        "a malformed tenant id was looked up"
    );
    // Its negative twin: a well-formed unknown id is looked up (and is 404 too).
    let (answer, _) = exchange(t.app.addr, request("GET", "/t/nosuch/jwks.json", &[], "")).await;
    assert_not_found("well-formed unknown id", &answer);
    assert!(cache_misses(&t.app).await > misses_before, "the metric counts lookups");
    // And the real tenant still answers, on its exact id only.
    let (answer, _) = exchange(t.app.addr, request("GET", "/t/acme/jwks.json", &[], "")).await;
    assert_eq!(answer.status(), Some(200), "{answer:?}");
    t.still_serving().await;
}

/// Bytes that are not allowed in a request line at all: actix's parser
/// refuses them (400, no body) and closes; the server keeps serving.
async fn control_bytes_in_the_request_line_are_400(backend: Backend) {
    let Some(t) = target(backend).await else { return };
    for raw in [
        &b"GET /t/acme\0/jwks.json HTTP/1.1\r\n\r\n"[..],
        b"GET /t/ac me/jwks.json HTTP/1.1\r\n\r\n",
        b"GET /t/acme\x7f/jwks.json HTTP/1.1\r\n\r\n",
    ] {
        let (answer, took) = exchange(t.app.addr, raw.to_vec()).await;
        assert!(
            matches!(answer.status(), Some(400) | None),
            "{:?}: {answer:?}",
            String::from_utf8_lossy(raw)
        );
        assert!(took < ANSWER_BOUND);
    }
    t.still_serving().await;
}

backend_tests!(
    tenant_path_tricks_are_404_without_a_lookup,
    control_bytes_in_the_request_line_are_400,
);
