//! The token endpoint (INTERFACE.md §4): every error case with its positive twin.

use crate::jwks::verify_with_jwks;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_core::time::now_secs;
use tessera_testkit::{jwt_part, reply, Backend, TestApp};

const CC: (&str, &str) = ("grant_type", "client_credentials");

async fn app_with_client(backend: Backend, metadata: serde_json::Value) -> (TestApp, String, String) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let (id, secret) = app.create_secret_client("acme", metadata).await;
    (app, id, secret)
}

async fn basic_token_is_an_rfc9068_jwt_verified_by_jwks(backend: Backend) {
    let (app, id, secret) =
        app_with_client(backend, json!({"client_id": "p1", "scope": "orders:read orders:write"})).await;
    let before = now_secs();
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // RFC 6749 §5.1: a JSON answer, never cached.
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.body["scope"], "orders:read orders:write");
    let token = r.body["access_token"].as_str().unwrap();

    let header = jwt_part(token, 0);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = verify_with_jwks(&app, "acme", token).await.unwrap();
    let issuer = app.issuer("acme");
    assert_eq!(claims["iss"], issuer.as_str());
    assert_eq!(claims["sub"], "p1");
    assert_eq!(claims["client_id"], "p1");
    assert_eq!(claims["aud"], issuer.as_str(), "default audience is the issuer");
    assert_eq!(claims["scope"], "orders:read orders:write");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= now_secs());
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 900);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    assert!(claims.get("cnf").is_none());

    // Each token has its own jti.
    let again = app.access_token("acme", &id, &secret).await;
    assert_ne!(jwt_part(&again, 1)["jti"], claims["jti"]);
}

async fn secret_methods_are_interchangeable(backend: Backend) {
    let (app, post_id, post_secret) =
        app_with_client(backend, json!({"token_endpoint_auth_method": "client_secret_post"})).await;
    let r = app
        .token_form("acme", &[CC, ("client_id", &post_id), ("client_secret", &post_secret)])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // RFC 6749 §2.3.1: the same secret over Basic is accepted too.
    let r = app.token_basic("acme", &post_id, &post_secret, &[CC]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // And a Basic-registered client may post its secret in the body.
    let (basic_id, basic_secret) = app.create_secret_client("acme", json!({})).await;
    let r = app
        .token_form(
            "acme",
            &[CC, ("client_id", &basic_id), ("client_secret", &basic_secret)],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Basic with a matching client_id in the body is fine; a different one is not.
    let r = app
        .token_basic("acme", &basic_id, &basic_secret, &[CC, ("client_id", &basic_id)])
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .token_basic("acme", &basic_id, &basic_secret, &[CC, ("client_id", &post_id)])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
}

async fn grant_type_rules(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({})).await;
    let r = app.token_basic("acme", &id, &secret, &[]).await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = app
        .token_basic("acme", &id, &secret, &[("grant_type", "password")])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "unsupported_grant_type"));
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!(r.status, 200);
}

async fn malformed_requests_are_invalid_request(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({"scope": "a b"})).await;
    let url = app.url("/t/acme/oauth2/token");
    // Repeated parameter.
    let r = app
        .token_basic("acme", &id, &secret, &[CC, ("scope", "a"), ("scope", "b")])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    // Not a form: JSON, and no content type at all; then the right one (charset allowed).
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let path = "/t/acme/oauth2/token";
    let cc = "grant_type=client_credentials";
    for (content_type, body, status) in [
        (Some("application/json"), r#"{"grant_type":"client_credentials"}"#, 400),
        (None, cc, 400),
        (Some("text/plain"), cc, 400),
        (Some("application/x-www-form-urlencoded; charset=UTF-8"), cc, 200),
    ] {
        let mut headers = vec![("authorization", basic.as_str())];
        headers.extend(content_type.map(|c| ("content-type", c)));
        let r = app.post_raw(path, &headers, body).await;
        assert_eq!(r.status, status, "{content_type:?}: {:?}", r.body);
        if status == 400 {
            assert_eq!(r.error(), "invalid_request");
        }
    }
    // Two authentication methods at once.
    let r = app
        .token_basic("acme", &id, &secret, &[CC, ("client_secret", &secret)])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    // GET is not a token request.
    let r = reply(app.client.get(&url).send().await.unwrap()).await;
    assert!(r.status.is_client_error());
}

async fn body_size_is_capped(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({})).await;
    let padding = "x".repeat(64 * 1024);
    let r = app
        .token_basic("acme", &id, &secret, &[CC, ("padding", &padding)])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (413, "invalid_request"));
    // Just under the cap is read and answered normally.
    let padding = "x".repeat(60 * 1024);
    let r = app
        .token_basic("acme", &id, &secret, &[CC, ("padding", &padding)])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn client_authentication_failures(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({"client_id": "known"})).await;
    // Wrong secret over Basic: 401 with a Basic challenge.
    let wrong = app.token_basic("acme", &id, "not-the-secret", &[CC]).await;
    assert_eq!((wrong.status.as_u16(), wrong.error()), (401, "invalid_client"));
    assert!(wrong.header("www-authenticate").unwrap().starts_with("Basic realm="));
    // Unknown client: the same answer, so client ids cannot be probed.
    let unknown = app.token_basic("acme", "nobody", "not-the-secret", &[CC]).await;
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.body, wrong.body);
    // Impossible client id: same again.
    let weird = app.token_basic("acme", "a b/c", "x", &[CC]).await;
    assert_eq!(weird.body, wrong.body);
    // Wrong secret in the body: 401, no Basic challenge.
    let r = app
        .token_form("acme", &[CC, ("client_id", &id), ("client_secret", "nope")])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    assert!(r.header("www-authenticate").is_none());
    // No credentials at all.
    let r = app.token_form("acme", &[CC, ("client_id", &id)]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    // Malformed Basic header.
    let form = ("content-type", "application/x-www-form-urlencoded");
    let r = app
        .post_raw(
            "/t/acme/oauth2/token",
            &[("authorization", "Basic !!!"), form],
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    // The right secret works.
    assert_eq!(app.token_basic("acme", &id, &secret, &[CC]).await.status, 200);
}

async fn scope_rules(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({"scope": "read write admin"})).await;
    let r = app
        .token_basic("acme", &id, &secret, &[CC, ("scope", "read write")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["scope"], "read write");
    let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["scope"], "read write");
    // Omitted: everything registered.
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!(r.body["scope"], "admin read write");
    // Not a subset.
    let r = app
        .token_basic("acme", &id, &secret, &[CC, ("scope", "read delete")])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_scope"));
    // Malformed.
    let r = app.token_basic("acme", &id, &secret, &[CC, ("scope", "read\"")]).await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_scope"));
    // A client without scopes gets a token without `scope`.
    let (bare_id, bare_secret) = app.create_secret_client("acme", json!({})).await;
    let r = app.token_basic("acme", &bare_id, &bare_secret, &[CC]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("scope").is_none());
    assert!(jwt_part(r.body["access_token"].as_str().unwrap(), 1)
        .get("scope")
        .is_none());
    let r = app
        .token_basic("acme", &bare_id, &bare_secret, &[CC, ("scope", "read")])
        .await;
    assert_eq!(r.error(), "invalid_scope");
}

async fn resource_and_default_audience(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant(
        "acme",
        json!({"resources": ["https://api.acme.example", "https://billing.acme.example"],
               "default_audience": "https://api.acme.example"}),
    )
    .await;
    let (id, secret) = app.create_secret_client("acme", json!({})).await;
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!(
        jwt_part(r.body["access_token"].as_str().unwrap(), 1)["aud"],
        "https://api.acme.example"
    );
    let r = app
        .token_basic(
            "acme",
            &id,
            &secret,
            &[CC, ("resource", "https://billing.acme.example")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        jwt_part(r.body["access_token"].as_str().unwrap(), 1)["aud"],
        "https://billing.acme.example"
    );
    for bad in ["https://evil.example", "not a uri", "https://api.acme.example#frag"] {
        let r = app.token_basic("acme", &id, &secret, &[CC, ("resource", bad)]).await;
        assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_target"), "{bad}");
    }
}

async fn disabled_and_deleted_clients_are_refused_at_once(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({})).await;
    assert_eq!(app.token_basic("acme", &id, &secret, &[CC]).await.status, 200);
    let path = format!("/tenants/acme/clients/{id}");
    let r = app.admin(Method::PATCH, &path, Some(json!({"disabled": true}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["disabled"], true);
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    assert!(r.body["error_description"].as_str().unwrap().contains("disabled"));
    app.admin(Method::PATCH, &path, Some(json!({"disabled": false}))).await;
    assert_eq!(app.token_basic("acme", &id, &secret, &[CC]).await.status, 200);
    assert_eq!(app.admin(Method::DELETE, &path, None).await.status, 204);
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
}

async fn bound_clients_need_a_certificate(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({"tls_client_certificate_bound_access_tokens": true})).await;
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    assert!(r.body["error_description"].as_str().unwrap().contains("certificate"));
    // The same client unbound gets its token.
    app.admin(
        Method::PATCH,
        &format!("/tenants/acme/clients/{id}"),
        Some(json!({"tls_client_certificate_bound_access_tokens": false})),
    )
    .await;
    assert_eq!(app.token_basic("acme", &id, &secret, &[CC]).await.status, 200);
    // A tenant requiring bound tokens refuses certificate-less requests.
    app.admin(
        Method::PATCH,
        "/tenants/acme",
        Some(json!({"require_bound_tokens": true})),
    )
    .await;
    assert_eq!(app.token_basic("acme", &id, &secret, &[CC]).await.status, 401);
}

async fn secret_rotation_with_and_without_grace(backend: Backend) {
    let (app, id, first) = app_with_client(backend, json!({})).await;
    let path = format!("/tenants/acme/clients/{id}/secret");
    // With a grace period both secrets work.
    let r = app
        .admin(Method::POST, &path, Some(json!({"grace_period_secs": 3600})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let second = r.body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(app.token_basic("acme", &id, &first, &[CC]).await.status, 200);
    assert_eq!(app.token_basic("acme", &id, &second, &[CC]).await.status, 200);
    // Without one (the default) only the newest works.
    let r = app.admin(Method::POST, &path, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let third = r.body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(app.token_basic("acme", &id, &first, &[CC]).await.status, 401);
    assert_eq!(app.token_basic("acme", &id, &second, &[CC]).await.status, 401);
    assert_eq!(app.token_basic("acme", &id, &third, &[CC]).await.status, 200);
    // Bad options are named.
    let r = app.admin(Method::POST, &path, Some(json!({"grace": 1}))).await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    let r = app
        .admin(Method::POST, &path, Some(json!({"grace_period_secs": -1})))
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
}

async fn short_ttl_is_honoured(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({"access_token_ttl_secs": 120})).await;
    let (id, secret) = app.create_secret_client("acme", json!({})).await;
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!(r.body["expires_in"], 120);
    let c = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
}

async fn parallel_requests_all_succeed(backend: Backend) {
    let (app, id, secret) = app_with_client(backend, json!({})).await;
    let futures: Vec<_> = (0..20).map(|_| app.token_basic("acme", &id, &secret, &[CC])).collect();
    let results = futures_util::future::join_all(futures).await;
    assert!(results.iter().all(|r| r.status == 200));
}

async fn request_ids_are_returned_and_sanitised(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let r = app.get_json("/t/system/jwks.json").await;
    let id = r.header("x-request-id").unwrap();
    assert!(id.len() >= 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let sent = |value: &'static str| {
        let client = app.client.clone();
        let url = app.url("/t/system/jwks.json");
        async move { reply(client.get(url).header("x-request-id", value).send().await.unwrap()).await }
    };
    let r = sent("trace-abc_123").await;
    assert_eq!(
        r.header("x-request-id"),
        Some("trace-abc_123"),
        "a sane incoming id is kept"
    );
    let r = sent("bad id with spaces; and=more").await;
    assert_ne!(r.header("x-request-id"), Some("bad id with spaces; and=more"));
}

backend_tests!(
    request_ids_are_returned_and_sanitised,
    basic_token_is_an_rfc9068_jwt_verified_by_jwks,
    secret_methods_are_interchangeable,
    grant_type_rules,
    malformed_requests_are_invalid_request,
    body_size_is_capped,
    client_authentication_failures,
    scope_rules,
    resource_and_default_audience,
    disabled_and_deleted_clients_are_refused_at_once,
    bound_clients_need_a_certificate,
    secret_rotation_with_and_without_grace,
    short_ttl_is_honoured,
    parallel_requests_all_succeed,
);
