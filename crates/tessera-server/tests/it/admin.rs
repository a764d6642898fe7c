//! The admin API (INTERFACE.md §7): authorization, tenants, clients, audit.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_testkit::{Backend, TestApp};

/// A token for a client of `tenant` registered with `scope`.
async fn admin_token(app: &TestApp, tenant: &str, scope: &str) -> String {
    let (id, secret) = app.create_secret_client(tenant, json!({"scope": scope})).await;
    app.access_token(tenant, &id, &secret).await
}

async fn admin_api_requires_an_admin_credential(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    // No token.
    let r = tessera_testkit::reply(app.client.get(app.url("/admin/v1/tenants")).send().await.unwrap()).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_token"));
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    // Garbage, a wrong bootstrap token, another scheme.
    for bad in ["garbage", "test-bootstrap-token-0123456789abcdeX", "a.b.c"] {
        let r = app.admin_as(bad, Method::GET, "/tenants", None).await;
        assert_eq!(r.status, 401, "{bad}");
    }
    let r = tessera_testkit::reply(
        app.client
            .get(app.url("/admin/v1/tenants"))
            .basic_auth("x", Some("y"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    // A valid token without an admin scope: 403.
    let plain = admin_token(&app, "acme", "orders:read").await;
    let r = app.admin_as(&plain, Method::GET, "/tenants", None).await;
    assert_eq!((r.status.as_u16(), r.error()), (403, "insufficient_scope"));
    // tessera:admin outside the system tenant is not super-admin.
    let fake_super = admin_token(&app, "acme", "tessera:admin").await;
    let r = app
        .admin_as(&fake_super, Method::POST, "/tenants", Some(json!({"id": "x"})))
        .await;
    assert_eq!(r.status, 403);
    // The bootstrap token works.
    assert_eq!(app.admin(Method::GET, "/tenants", None).await.status, 200);
}

async fn system_admin_clients_administer_every_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let token = admin_token(&app, "system", "tessera:admin").await;
    let r = app
        .admin_as(&token, Method::POST, "/tenants", Some(json!({"id": "acme"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = app
        .admin_as(
            &token,
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "c1"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app.admin_as(&token, Method::GET, "/tenants", None).await;
    let ids: Vec<&str> = r.body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["acme", "system"]);
    // The audit log names the client that acted and its address.
    let r = app.admin(Method::GET, "/tenants/acme/audit", None).await;
    let entries = r.body["entries"].as_array().unwrap();
    let create = entries.iter().find(|e| e["action"] == "client.create").unwrap();
    assert!(create["actor"].as_str().unwrap().starts_with("client:system/"));
    assert_eq!(create["source"], "127.0.0.1");
    assert_eq!(create["target"], "c1");
}

async fn tenant_admins_see_only_their_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    app.create_tenant("globex", json!({})).await;
    app.create_secret_client("globex", json!({"client_id": "g1"})).await;
    let token = admin_token(&app, "acme", "tessera:tenant-admin").await;

    // Own tenant: full client management.
    let r = app
        .admin_as(
            &token,
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "a1"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        app.admin_as(&token, Method::GET, "/tenants/acme/clients/a1", None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.admin_as(&token, Method::GET, "/tenants/acme", None).await.status,
        200
    );
    let r = app
        .admin_as(
            &token,
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"access_token_ttl_secs": 600})),
        )
        .await;
    assert_eq!(r.status, 200);

    // Another tenant: as if it did not exist.
    for (method, path, body) in [
        (Method::GET, "/tenants/globex", None),
        (Method::PATCH, "/tenants/globex", Some(json!({"display_name": "x"}))),
        (Method::DELETE, "/tenants/globex", None),
        (Method::GET, "/tenants/globex/clients", None),
        (Method::GET, "/tenants/globex/clients/g1", None),
        (Method::POST, "/tenants/globex/clients", Some(json!({}))),
        (Method::DELETE, "/tenants/globex/clients/g1", None),
        (Method::POST, "/tenants/globex/clients/g1/secret", None),
        (Method::POST, "/tenants/globex/keys/rotate", None),
        (Method::GET, "/tenants/globex/audit", None),
        (Method::GET, "/tenants/system/clients", None),
    ] {
        let r = app.admin_as(&token, method.clone(), path, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
    }
    // Nothing of globex changed.
    assert_eq!(
        app.admin(Method::GET, "/tenants/globex/clients/g1", None).await.status,
        200
    );
    // Listing shows only its own tenant; creating or deleting tenants is for super-admins.
    let r = app.admin_as(&token, Method::GET, "/tenants", None).await;
    let ids: Vec<&str> = r.body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["acme"]);
    let r = app
        .admin_as(&token, Method::POST, "/tenants", Some(json!({"id": "new"})))
        .await;
    assert_eq!(r.status, 403);
    let r = app.admin_as(&token, Method::DELETE, "/tenants/acme", None).await;
    assert_eq!(r.status, 403);
    // A tenant-admin scope in the system tenant grants nothing.
    let sys = admin_token(&app, "system", "tessera:tenant-admin").await;
    assert_eq!(
        app.admin_as(&sys, Method::GET, "/tenants/system", None).await.status,
        403
    );
}

async fn disabled_admin_client_loses_access_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let (id, secret) = app
        .create_secret_client("system", json!({"scope": "tessera:admin"}))
        .await;
    let token = app.access_token("system", &id, &secret).await;
    assert_eq!(app.admin_as(&token, Method::GET, "/tenants", None).await.status, 200);
    app.admin(
        Method::PATCH,
        &format!("/tenants/system/clients/{id}"),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(app.admin_as(&token, Method::GET, "/tenants", None).await.status, 401);
}

async fn tokens_for_other_audiences_are_not_admin_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.admin(
        Method::PATCH,
        "/tenants/system",
        Some(json!({"resources": ["https://api.example"]})),
    )
    .await;
    let (id, secret) = app
        .create_secret_client("system", json!({"scope": "tessera:admin"}))
        .await;
    let r = app
        .token_basic(
            "system",
            &id,
            &secret,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://api.example"),
            ],
        )
        .await;
    let token = r.body["access_token"].as_str().unwrap();
    assert_eq!(app.admin_as(token, Method::GET, "/tenants", None).await.status, 401);
}

async fn tenant_crud_and_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let created = app
        .create_tenant(
            "acme",
            json!({"display_name": "Acme Corp", "access_token_ttl_secs": 300}),
        )
        .await;
    assert_eq!(created["issuer"], app.issuer("acme"));
    assert_eq!(created["access_token_ttl_secs"], 300);
    assert_eq!(created["signing_alg"], "ES256");
    let r = app.admin(Method::POST, "/tenants", Some(json!({"id": "acme"}))).await;
    assert_eq!(r.status, 409);
    let r = app.admin(Method::GET, "/tenants/acme", None).await;
    assert_eq!(r.body["display_name"], "Acme Corp");
    let r = app
        .admin(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"display_name": "Acme", "clock_skew_secs": 30})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["clock_skew_secs"], 30);
    assert_eq!(r.body["access_token_ttl_secs"], 300, "untouched settings are kept");
    // Bad input names the field and changes nothing.
    for (body, field) in [
        (json!({"id": "Bad_Id"}), "id"),
        (json!({}), "id"),
        (json!({"id": "ok", "access_token_ttl_secs": 1}), "access_token_ttl_secs"),
        (json!({"id": "ok", "signing_alg": "HS256"}), "signing_alg"),
        (json!({"id": "ok", "colour": "blue"}), "colour"),
        (json!({"id": "ok", "resources": "https://x"}), "resources"),
    ] {
        let r = app.admin(Method::POST, "/tenants", Some(body.clone())).await;
        assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"), "{body}");
        assert!(
            r.body["error_description"].as_str().unwrap().starts_with(field),
            "{body}: {:?}",
            r.body
        );
    }
    assert_eq!(app.admin(Method::GET, "/tenants/ok", None).await.status, 404);
    let r = app
        .admin(
            Method::PATCH,
            "/tenants/acme",
            Some(json!({"access_token_ttl_secs": 0})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        app.admin(Method::GET, "/tenants/acme", None).await.body["access_token_ttl_secs"],
        300
    );
    // Malformed JSON and wrong content type.
    let auth = format!("Bearer {}", tessera_testkit::BOOTSTRAP);
    for (content_type, body) in [("application/json", "{not json"), ("text/plain", "{\"id\":\"t2\"}")] {
        let r = app
            .post_raw(
                "/admin/v1/tenants",
                &[("authorization", &auth), ("content-type", content_type)],
                body,
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (400, "invalid_request"),
            "{content_type}"
        );
    }
    assert_eq!(app.admin(Method::GET, "/tenants/t2", None).await.status, 404);
    // Delete: gone, and its clients with it; system cannot be deleted.
    app.create_secret_client("acme", json!({"client_id": "c1"})).await;
    assert_eq!(app.admin(Method::DELETE, "/tenants/acme", None).await.status, 204);
    assert_eq!(app.admin(Method::GET, "/tenants/acme", None).await.status, 404);
    assert_eq!(
        app.admin(Method::GET, "/tenants/acme/clients/c1", None).await.status,
        404
    );
    assert_eq!(app.get_json("/t/acme/jwks.json").await.status, 404);
    assert_eq!(app.admin(Method::DELETE, "/tenants/system", None).await.status, 400);
    assert_eq!(app.admin(Method::DELETE, "/tenants/acme", None).await.status, 404);
}

async fn client_crud_and_metadata_validation(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let r = app
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_name": "Partner", "scope": "a b"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["client_id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty(), "client_id generated");
    let secret = r.body["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256-bit secret");
    assert_eq!(r.body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(r.body["grant_types"], json!(["client_credentials"]));
    assert_eq!(
        r.header("location").unwrap(),
        format!("/admin/v1/tenants/acme/clients/{id}")
    );
    // The secret is shown once: never on reads.
    let r = app
        .admin(Method::GET, &format!("/tenants/acme/clients/{id}"), None)
        .await;
    assert!(r.body.get("client_secret").is_none());
    assert_eq!(r.body["client_name"], "Partner");
    let r = app.admin(Method::GET, "/tenants/acme/clients", None).await;
    assert!(!r.body.to_string().contains(secret));
    // Replace: absent fields take their defaults; the id cannot change.
    let path = format!("/tenants/acme/clients/{id}");
    let r = app
        .admin(
            Method::PUT,
            &path,
            Some(json!({"token_endpoint_auth_method": "client_secret_post", "scope": "a"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("client_name").is_none());
    assert_eq!(r.body["scope"], "a");
    let r = app.admin(Method::PUT, &path, Some(json!({"client_id": "other"}))).await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_client_metadata"));
    // The secret survives a replace.
    let r = app
        .token_form(
            "acme",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", secret),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Duplicate id.
    app.create_secret_client("acme", json!({"client_id": "fixed"})).await;
    let r = app
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "fixed"})),
        )
        .await;
    assert_eq!(r.status, 409);
    // Invalid metadata: 400 invalid_client_metadata naming the field.
    for (body, field) in [
        (json!({"client_id": "has space"}), "client_id"),
        (
            json!({"token_endpoint_auth_method": "none"}),
            "token_endpoint_auth_method",
        ),
        (json!({"scope": 7}), "scope"),
        (json!({"grant_types": ["implicit"]}), "grant_types"),
        (json!({"redirect_uris": ["https://x"]}), "redirect_uris"),
        (json!({"jwks_uri": "https://x/jwks"}), "jwks_uri"),
    ] {
        let r = app
            .admin(Method::POST, "/tenants/acme/clients", Some(body.clone()))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (400, "invalid_client_metadata"),
            "{body}"
        );
        assert!(
            r.body["error_description"].as_str().unwrap().starts_with(field),
            "{body}: {:?}",
            r.body
        );
    }
    // Clients of unknown tenants, unknown clients.
    let r = app.admin(Method::POST, "/tenants/nope/clients", Some(json!({}))).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.admin(Method::GET, "/tenants/acme/clients/nope", None).await.status,
        404
    );
    assert_eq!(
        app.admin(Method::DELETE, "/tenants/acme/clients/nope", None)
            .await
            .status,
        404
    );
    // Audit trail of the changes, without secrets.
    let r = app.admin(Method::GET, "/tenants/acme/audit", None).await;
    let actions: Vec<&str> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"client.create") && actions.contains(&"client.replace") && actions.contains(&"tenant.create")
    );
    assert!(!r.body.to_string().contains(secret));
}

backend_tests!(
    admin_api_requires_an_admin_credential,
    system_admin_clients_administer_every_tenant,
    tenant_admins_see_only_their_tenant,
    disabled_admin_client_loses_access_at_once,
    tokens_for_other_audiences_are_not_admin_tokens,
    tenant_crud_and_validation,
    client_crud_and_metadata_validation,
);
