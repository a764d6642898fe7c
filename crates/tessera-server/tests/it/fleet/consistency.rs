//! Three instances on one database behave as one server: replay protection,
//! revocation, admin changes, key rotation and admin UI sessions, and a
//! change in one tenant never reaches the same client id in another.

use super::{holds_before, postgres_or_skip, Fleet, PROPAGATION};
use crate::assertions::{assertion, partner_key};
use crate::jwks::verify_with_set;
use crate::ui::{Browser, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;
use std::time::Instant;
use tessera_testkit::{jwt_part, Reply};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Only the issuer is named; nothing listens there (these tests talk to the instances).
const PUBLIC_URL: &str = "https://tessera.test";

async fn three(test: &str) -> Option<Fleet> {
    let db = postgres_or_skip(test)?;
    Some(Fleet::start(db, 3, PUBLIC_URL).await)
}

async fn create_tenant(f: &Fleet, id: &str) {
    f.admin_ok(0, Method::POST, "/tenants", Some(json!({"id": id}))).await;
}

/// Registers a secret client on instance 0; answers its secret.
async fn secret_client(f: &Fleet, tenant: &str, id: &str, scope: &str) -> String {
    let body = f
        .admin_ok(
            0,
            Method::POST,
            &format!("/tenants/{tenant}/clients"),
            Some(json!({"client_id": id, "scope": scope})),
        )
        .await;
    body["client_secret"].as_str().unwrap().to_owned()
}

async fn token_with_assertion(f: &Fleet, i: usize, tenant: &str, assertion: &str) -> Reply {
    f.post(
        i,
        tenant,
        "token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ],
    )
    .await
}

/// (a) One private_key_jwt assertion sent to every instance at once: exactly
/// one token; the others are `invalid_client` replays.
#[actix_web::test]
async fn an_assertion_is_accepted_once_across_instances() {
    let Some(f) = three("an_assertion_is_accepted_once_across_instances").await else {
        return;
    };
    create_tenant(&f, "acme").await;
    let key = partner_key("ES256", "k1");
    f.admin_ok(
        0,
        Method::POST,
        "/tenants/acme/clients",
        Some(
            json!({"client_id": "p1", "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [key.jwk.clone()]}}),
        ),
    )
    .await;
    let iss = f.issuer("acme");
    // Fresh assertions are accepted by every instance.
    for i in 0..3 {
        let a = assertion(key.signer.as_ref(), Some("k1"), "p1", &iss, json!({}));
        let r = token_with_assertion(&f, i, "acme", &a).await;
        assert_eq!(r.status, 200, "instance {i}: {:?}", r.body);
    }
    for round in 0..5 {
        let one = assertion(key.signer.as_ref(), Some("k1"), "p1", &iss, json!({}));
        let answers = futures_util::future::join_all((0..3).map(|i| token_with_assertion(&f, i, "acme", &one))).await;
        let issued = answers.iter().filter(|r| r.status == 200).count();
        assert_eq!(issued, 1, "round {round}: {answers:?}");
        for r in answers.iter().filter(|r| r.status != 200) {
            assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{r:?}");
            assert_eq!(r.body["error_description"], "jti already used");
        }
        // And later, on any instance, still a replay.
        let r = token_with_assertion(&f, round % 3, "acme", &one).await;
        assert_eq!(r.body["error_description"], "jti already used");
    }
}

/// (b) A token revoked on one instance introspects inactive on the others
/// at once (the revocation is one row every instance reads).
#[actix_web::test]
async fn a_revocation_is_seen_by_every_instance_at_once() {
    let Some(f) = three("a_revocation_is_seen_by_every_instance_at_once").await else {
        return;
    };
    create_tenant(&f, "acme").await;
    let secret = secret_client(&f, "acme", "c1", "orders:read").await;
    let r = f.token_basic(1, "acme", "c1", &secret).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let introspect = async |i: usize| {
        f.post(i, "acme", "introspect", Some(("c1", &secret)), &[("token", &token)])
            .await
            .body
    };
    for i in 0..3 {
        let answer = introspect(i).await;
        assert_eq!(answer["active"], true, "instance {i}: {answer}");
        assert_eq!(answer["client_id"], "c1");
    }
    let r = f
        .post(0, "acme", "revoke", Some(("c1", &secret)), &[("token", &token)])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for i in 0..3 {
        assert_eq!(introspect(i).await, json!({"active": false}), "instance {i}");
    }
}

fn client_path(tenant: &str, id: &str) -> String {
    format!("/tenants/{tenant}/clients/{id}")
}

/// Does instance `i` answer a token request with `status` before `deadline`?
async fn answers_before(f: &Fleet, deadline: Instant, i: usize, t: &str, id: &str, secret: &str, status: u16) -> bool {
    holds_before(deadline, async || {
        f.token_basic(i, t, id, secret).await.status.as_u16() == status
    })
    .await
}

/// (c) A client disabled on one instance is refused by the others within
/// one second of the acknowledgement; enabled again, accepted again; a
/// rotated secret likewise. The same client id in another tenant never notices.
#[actix_web::test]
async fn admin_changes_reach_every_instance_within_a_second() {
    let Some(f) = three("admin_changes_reach_every_instance_within_a_second").await else {
        return;
    };
    create_tenant(&f, "acme").await;
    create_tenant(&f, "globex").await;
    let acme_secret = secret_client(&f, "acme", "shared", "a").await;
    let globex_secret = secret_client(&f, "globex", "shared", "a").await;
    // Every instance has both tenants in its cache before the changes.
    for i in 0..3 {
        assert_eq!(f.token_basic(i, "acme", "shared", &acme_secret).await.status, 200);
        assert_eq!(f.token_basic(i, "globex", "shared", &globex_secret).await.status, 200);
    }

    f.admin_ok(
        0,
        Method::PATCH,
        &client_path("acme", "shared"),
        Some(json!({"disabled": true})),
    )
    .await;
    let deadline = Instant::now() + PROPAGATION;
    for i in 1..3 {
        assert!(
            answers_before(&f, deadline, i, "acme", "shared", &acme_secret, 401).await,
            "instance {i} still accepts a client disabled on instance 0 a second later"
        );
    }
    // Tenant isolation: globex's client of the same id is untouched everywhere.
    for i in 0..3 {
        assert_eq!(f.token_basic(i, "globex", "shared", &globex_secret).await.status, 200);
    }

    f.admin_ok(
        2,
        Method::PATCH,
        &client_path("acme", "shared"),
        Some(json!({"disabled": false})),
    )
    .await;
    let deadline = Instant::now() + PROPAGATION;
    for i in 0..2 {
        assert!(
            answers_before(&f, deadline, i, "acme", "shared", &acme_secret, 200).await,
            "instance {i} still refuses a client enabled again on instance 2 a second later"
        );
    }

    // Secret rotation without grace: the old secret stops everywhere, the new one works everywhere.
    let rotated = f
        .admin_ok(
            1,
            Method::POST,
            &format!("{}/secret", client_path("acme", "shared")),
            Some(json!({"grace_period_secs": 0})),
        )
        .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + PROPAGATION;
    for i in [0, 2] {
        assert!(
            answers_before(&f, deadline, i, "acme", "shared", &acme_secret, 401).await,
            "instance {i} still accepts the old secret a second after rotation"
        );
        assert!(
            answers_before(&f, deadline, i, "acme", "shared", &new_secret, 200).await,
            "instance {i} does not accept the new secret a second after rotation"
        );
    }
    for i in 0..3 {
        assert_eq!(f.token_basic(i, "globex", "shared", &globex_secret).await.status, 200);
        assert_eq!(f.token_basic(i, "globex", "shared", &new_secret).await.status, 401);
    }

    // Disabling globex's client leaves acme's alone.
    f.admin_ok(
        1,
        Method::PATCH,
        &client_path("globex", "shared"),
        Some(json!({"disabled": true})),
    )
    .await;
    let deadline = Instant::now() + PROPAGATION;
    for i in 0..3 {
        assert!(answers_before(&f, deadline, i, "globex", "shared", &globex_secret, 401).await);
        assert_eq!(f.token_basic(i, "acme", "shared", &new_secret).await.status, 200);
    }
}

fn kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

/// (d) Keys rotated on one instance: within a second the others publish the
/// same JWKS and sign with the new key; a token signed before the rotation
/// still verifies with the JWKS they publish. Another tenant's keys stay.
#[actix_web::test]
async fn key_rotation_reaches_every_instance_within_a_second() {
    let Some(f) = three("key_rotation_reaches_every_instance_within_a_second").await else {
        return;
    };
    create_tenant(&f, "acme").await;
    create_tenant(&f, "globex").await;
    let secret = secret_client(&f, "acme", "c1", "a").await;
    let globex_jwks = f.get_json(0, "/t/globex/jwks.json").await.body;
    let mut before = Vec::new();
    for i in 0..3 {
        let r = f.token_basic(i, "acme", "c1", &secret).await;
        before.push(r.body["access_token"].as_str().unwrap().to_owned());
    }
    let old_kid = jwt_part(&before[0], 0)["kid"].as_str().unwrap().to_owned();

    let rotated = f.admin_ok(0, Method::POST, "/tenants/acme/keys/rotate", None).await;
    let deadline = Instant::now() + PROPAGATION;
    let active = rotated["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "active")
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(active, old_kid);
    let published = kids(&f.get_json(0, "/t/acme/jwks.json").await.body);
    for i in 1..3 {
        let same_jwks = holds_before(deadline, async || {
            kids(&f.get_json(i, "/t/acme/jwks.json").await.body) == published
        })
        .await;
        assert!(
            same_jwks,
            "instance {i} does not publish the rotated key set a second later"
        );
        let signs_with_new = holds_before(deadline, async || {
            let r = f.token_basic(i, "acme", "c1", &secret).await;
            jwt_part(r.body["access_token"].as_str().unwrap(), 0)["kid"] == active.as_str()
        })
        .await;
        assert!(
            signs_with_new,
            "instance {i} does not sign with the new key a second later"
        );
    }
    for i in 0..3 {
        let jwks = f.get_json(i, "/t/acme/jwks.json").await.body;
        assert!(kids(&jwks).contains(&old_kid), "instance {i} dropped the old key");
        for (j, token) in before.iter().enumerate() {
            assert!(
                verify_with_set(&jwks, token).is_ok(),
                "token from instance {j} (before rotation) does not verify with instance {i}'s JWKS"
            );
        }
        assert_eq!(f.get_json(i, "/t/globex/jwks.json").await.body, globex_jwks);
    }
}

/// A tenant admin UI account made with the CLI (as an operator would).
fn add_tenant_admin(f: &Fleet, name: &str, tenant: &str) {
    let mut child = crate::cli::cli_with_db(&f.dir, &f.db)
        .args(["admin-user", "create", name, "--tenant", tenant, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// (e) A session opened on one instance works on the others (confined to
/// its tenant on each); signed out on another, it is refused everywhere.
#[actix_web::test]
async fn admin_ui_sessions_are_shared_by_every_instance() {
    let Some(f) = three("admin_ui_sessions_are_shared_by_every_instance").await else {
        return;
    };
    create_tenant(&f, "acme").await;
    create_tenant(&f, "globex").await;
    add_tenant_admin(&f, "alice", "acme");
    let browsers = |session: &Option<String>| {
        f.instances
            .iter()
            .map(|inst| {
                let mut b = Browser::at(&inst.url);
                b.session = session.clone();
                b
            })
            .collect::<Vec<_>>()
    };
    let mut a = Browser::at(&f.instances[0].url);
    let ok = a.sign_in("alice", PASSWORD).await;
    assert_eq!((ok.status.as_u16(), ok.location()), (303, "/admin/"));
    let on = browsers(&a.session);
    for (i, b) in on.iter().enumerate() {
        assert_eq!(b.get("/admin/").await.location(), "/admin/tenants/acme", "instance {i}");
        assert_eq!(b.get("/admin/tenants/acme/clients").await.status, 200, "instance {i}");
        // Confined to acme on every instance.
        assert_eq!(b.get("/admin/tenants/globex/clients").await.status, 404, "instance {i}");
    }
    // A cookie nobody issued is refused by all.
    for b in browsers(&Some("forged-session-value".into())) {
        assert_eq!(b.get("/admin/tenants/acme").await.location(), "/admin/login");
    }
    // Signed out on instance 1 (with that instance's CSRF check).
    let csrf = on[1].csrf("/admin/tenants/acme").await;
    let out = on[1].post("/admin/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!((out.status.as_u16(), out.location()), (303, "/admin/login"));
    for (i, b) in on.iter().enumerate() {
        assert_eq!(
            b.get("/admin/tenants/acme").await.location(),
            "/admin/login",
            "instance {i} still honours a session ended on instance 1"
        );
    }
}
