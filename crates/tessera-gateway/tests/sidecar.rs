//! End to end: Tessera issues a bound token, the tessera-gateway sidecar
//! checks it, and a recording upstream sees only what passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use tessera_gateway::config::{GatewayConfig, RouteScope};
use tessera_testkit::pki::{self, CertSpec};
use tessera_testkit::{reply, test_certs};

mod common;
use common::API;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn record(req: HttpRequest, body: web::Bytes, log: web::Data<Log>) -> HttpResponse {
    log.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        target: req.uri().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    HttpResponse::Ok()
        .insert_header(("x-upstream", "yes"))
        .body("upstream says hi")
}

fn upstream() -> (String, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let data = web::Data::new(log.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(record)))
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}"), log)
}

fn header<'a>(seen: &'a Seen, name: &str) -> Vec<&'a str> {
    seen.headers
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[actix_web::test]
async fn only_bound_tokens_with_their_certificate_reach_the_upstream() {
    let (app, cred) = common::issuer_with_bound_client().await;
    let client = cred.client(&[]);
    let r = app
        .token_mtls(
            &client,
            "acme",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "p1"),
                ("resource", API),
            ],
        )
        .await;
    let token = r.body["access_token"].as_str().unwrap().to_owned();

    let (upstream_url, log) = upstream();
    let certs = test_certs();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let gateway = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let config = GatewayConfig {
        listen: listener.local_addr().unwrap().to_string(),
        tls_cert: certs.server_cert.clone(),
        tls_key: certs.server_key.clone(),
        upstream: upstream_url,
        issuers: vec![app.issuer("acme")],
        ca_file: Some(certs.ca_cert.clone()),
        leeway_secs: 30,
        audience: API.into(),
        require_binding: true,
        routes: vec![RouteScope {
            prefix: "/admin".into(),
            scope: "orders:admin".into(),
        }],
        introspection: None,
        proxy: Some(tessera_gateway::config::ProxyConfig {
            client_cert_header: "Client-Cert".into(),
            client_cert_format: "rfc9440".into(),
            trusted_peers: vec!["127.0.0.1/32".into()],
        }),
    };
    let server = tessera_gateway::proxy::build(config, listener).unwrap();
    actix_web::rt::spawn(server);

    // Passes: method, path, query and body reach the upstream, with our headers
    // and without the caller's spoofed copies.
    let res = client
        .post(format!("{gateway}/orders/1?x=1"))
        .bearer_auth(&token)
        .header("x-tessera-client-id", "evil")
        .header("x-tessera-scope", "orders:admin")
        .body("hello upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("x-upstream").unwrap(), "yes");
    assert_eq!(res.text().await.unwrap(), "upstream says hi");
    {
        let seen = log.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert_eq!(
            (s.method.as_str(), s.target.as_str(), s.body.as_str()),
            ("POST", "/orders/1?x=1", "hello upstream")
        );
        assert_eq!(header(s, "x-tessera-client-id"), vec!["p1"]);
        assert_eq!(header(s, "x-tessera-tenant"), vec!["acme"]);
        assert_eq!(header(s, "x-tessera-scope"), vec!["orders:read"]);
    }
    // Refused: another certificate, no certificate, no token, a missing scope.
    let thief = pki::self_signed(&CertSpec::default());
    let r = reply(
        thief
            .client(&[])
            .get(format!("{gateway}/orders/1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().contains("invalid_token"));
    let r = reply(
        app.client
            .get(format!("{gateway}/orders/1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = reply(client.get(format!("{gateway}/orders/1")).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    let r = reply(
        client
            .get(format!("{gateway}/admin/x"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.header("www-authenticate").unwrap().contains("insufficient_scope"));
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "refused requests never reach the upstream"
    );
}
