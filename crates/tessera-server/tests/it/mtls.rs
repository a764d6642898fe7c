//! Mutual TLS (RFC 8705): tls_client_auth, self_signed_tls_client_auth and
//! certificate-bound tokens, over real TLS handshakes with per-test PKI.

use reqwest::Method;
use serde_json::{json, Value};
use tessera_testkit::pki::{self, CertSpec, Credential};
use tessera_testkit::{jwt_part, Backend, TestApp};

const CC: (&str, &str) = ("grant_type", "client_credentials");

async fn add_anchor(app: &TestApp, tenant: &str, ca: &Credential) -> Value {
    let r = app
        .admin(
            Method::POST,
            &format!("/tenants/{tenant}/trust-anchors"),
            Some(json!({"pem": ca.cert_pem()})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

async fn register(app: &TestApp, tenant: &str, id: &str, metadata: Value) {
    let mut body = metadata;
    body["client_id"] = json!(id);
    let r = app
        .admin(Method::POST, &format!("/tenants/{tenant}/clients"), Some(body))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

fn tls(field: &str, value: &str) -> Value {
    json!({"token_endpoint_auth_method": "tls_client_auth", field: value})
}

/// Tenant `acme` trusting a fresh CA, and a bound tls_client_auth client
/// `id` (SAN DNS p.example); answers the client's certificate.
async fn bound_dns_client(app: &TestApp, id: &str) -> Credential {
    app.create_tenant("acme", json!({})).await;
    let ca = pki::ca("Acme Partners CA");
    add_anchor(app, "acme", &ca).await;
    let cred = pki::client_cert(
        &ca,
        &CertSpec {
            dns: &["p.example"],
            ..CertSpec::default()
        },
    );
    let mut meta = tls("tls_client_auth_san_dns", "p.example");
    meta["tls_client_certificate_bound_access_tokens"] = json!(true);
    register(app, "acme", id, meta).await;
    cred
}

fn thumbprint(cred: &Credential) -> String {
    tessera_clientauth::mtls::thumbprint_s256(&cred.der())
}

async fn tls_client_auth_by_subject_dn_and_each_san(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let ca = pki::ca("Acme Partners CA");
    add_anchor(&app, "acme", &ca).await;
    let subject = [("C", "DE"), ("O", "Acme Inc."), ("CN", "partner.example")];
    let by_dn = pki::client_cert(
        &ca,
        &CertSpec {
            subject: &subject,
            ..CertSpec::default()
        },
    );
    register(
        &app,
        "acme",
        "dn",
        tls("tls_client_auth_subject_dn", "CN=partner.example,O=Acme Inc.,C=DE"),
    )
    .await;
    // Equal as a DN, different as a string.
    register(
        &app,
        "acme",
        "dn2",
        tls("tls_client_auth_subject_dn", "cn=Partner.Example, o=acme   inc. ,c=de"),
    )
    .await;
    for id in ["dn", "dn2"] {
        let r = app
            .token_mtls(&by_dn.client(&[]), "acme", &[CC, ("client_id", id)])
            .await;
        assert_eq!(r.status, 200, "{id}: {:?}", r.body);
    }
    let sans = pki::client_cert(
        &ca,
        &CertSpec {
            subject: &[("CN", "sans")],
            dns: &["svc.partner.example"],
            uris: &["spiffe://partner.example/svc"],
            ips: &["192.0.2.7"],
            emails: &["ops@partner.example"],
            ..CertSpec::default()
        },
    );
    for (id, field, value) in [
        ("dns", "tls_client_auth_san_dns", "SVC.partner.example"),
        ("uri", "tls_client_auth_san_uri", "spiffe://partner.example/svc"),
        ("ip", "tls_client_auth_san_ip", "192.0.2.7"),
        ("email", "tls_client_auth_san_email", "ops@partner.example"),
    ] {
        register(&app, "acme", id, tls(field, value)).await;
        let r = app
            .token_mtls(&sans.client(&[]), "acme", &[CC, ("client_id", id)])
            .await;
        assert_eq!(r.status, 200, "{id}: {:?}", r.body);
        // The same certificate does not carry another client's name.
        let r = app
            .token_mtls(&by_dn.client(&[]), "acme", &[CC, ("client_id", id)])
            .await;
        assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{id}");
    }
    // A chain through an intermediate to the anchor.
    let inter = pki::intermediate(&ca, "Acme Issuing CA");
    let leaf = pki::client_cert(
        &inter,
        &CertSpec {
            subject: &subject,
            ..CertSpec::default()
        },
    );
    let r = app
        .token_mtls(&leaf.client(&[&inter]), "acme", &[CC, ("client_id", "dn")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn untrusted_or_invalid_certificates_are_invalid_client(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    app.create_tenant("globex", json!({})).await;
    let ca = pki::ca("Acme Partners CA");
    let globex_ca = pki::ca("Globex CA");
    add_anchor(&app, "acme", &ca).await;
    add_anchor(&app, "globex", &globex_ca).await;
    let subject = [("O", "Acme Inc."), ("CN", "partner.example")];
    register(
        &app,
        "acme",
        "p1",
        tls("tls_client_auth_subject_dn", "CN=partner.example,O=Acme Inc."),
    )
    .await;
    let good = pki::client_cert(
        &ca,
        &CertSpec {
            subject: &subject,
            ..CertSpec::default()
        },
    );
    assert_eq!(
        app.token_mtls(&good.client(&[]), "acme", &[CC, ("client_id", "p1")])
            .await
            .status,
        200
    );

    let rogue_ca = pki::ca("Acme Partners CA");
    let cases = [
        (
            "same DN, untrusted CA",
            pki::client_cert(
                &rogue_ca,
                &CertSpec {
                    subject: &subject,
                    ..CertSpec::default()
                },
            ),
        ),
        (
            "expired",
            pki::client_cert(
                &ca,
                &CertSpec {
                    subject: &subject,
                    from_days: -30,
                    to_days: -1,
                    ..CertSpec::default()
                },
            ),
        ),
        (
            "not yet valid",
            pki::client_cert(
                &ca,
                &CertSpec {
                    subject: &subject,
                    from_days: 2,
                    to_days: 30,
                    ..CertSpec::default()
                },
            ),
        ),
        (
            "DN mismatch",
            pki::client_cert(
                &ca,
                &CertSpec {
                    subject: &[("O", "Acme Inc."), ("CN", "other.example")],
                    ..CertSpec::default()
                },
            ),
        ),
        (
            "another tenant's CA",
            pki::client_cert(
                &globex_ca,
                &CertSpec {
                    subject: &subject,
                    ..CertSpec::default()
                },
            ),
        ),
        (
            "self-signed",
            pki::self_signed(&CertSpec {
                subject: &subject,
                ..CertSpec::default()
            }),
        ),
    ];
    for (what, cred) in cases {
        let r = app
            .token_mtls(&cred.client(&[]), "acme", &[CC, ("client_id", "p1")])
            .await;
        assert_eq!(
            (r.status.as_u16(), r.error()),
            (401, "invalid_client"),
            "{what}: {:?}",
            r.body
        );
    }
    // No certificate on the mTLS listener; the main listener never asks for one.
    let r = app.token_mtls(&app.client, "acme", &[CC, ("client_id", "p1")]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    let r = app.token_form("acme", &[CC, ("client_id", "p1")]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    // The trusted certificate at the other tenant: unknown client there.
    let r = app
        .token_mtls(&good.client(&[]), "globex", &[CC, ("client_id", "p1")])
        .await;
    assert_eq!(r.status, 401);
    // Removing the anchor stops the client at once.
    let anchors = app.admin(Method::GET, "/tenants/acme/trust-anchors", None).await;
    let id = anchors.body["trust_anchors"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.admin(Method::DELETE, &format!("/tenants/acme/trust-anchors/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.token_mtls(&good.client(&[]), "acme", &[CC, ("client_id", "p1")])
            .await
            .status,
        401
    );
}

async fn self_signed_certificates_match_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let spec = CertSpec {
        subject: &[("CN", "device-7")],
        ..CertSpec::default()
    };
    let mine = pki::self_signed(&spec);
    register(
        &app,
        "acme",
        "dev7",
        json!({"token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": {"keys": [pki::x5c_jwk(&mine)]}}),
    )
    .await;
    assert_eq!(
        app.token_mtls(&mine.client(&[]), "acme", &[CC, ("client_id", "dev7")])
            .await
            .status,
        200
    );
    // Same subject, another key: refused.
    let impostor = pki::self_signed(&spec);
    let r = app
        .token_mtls(&impostor.client(&[]), "acme", &[CC, ("client_id", "dev7")])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
}

async fn bound_tokens_carry_the_certificate_thumbprint(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let cred = bound_dns_client(&app, "bound").await;
    let r = app
        .token_mtls(&cred.client(&[]), "acme", &[CC, ("client_id", "bound")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        claims["cnf"]["x5t#S256"],
        thumbprint(&cred),
        "cnf is SHA-256 of the DER presented"
    );
    // A secret client, bound, over the mTLS listener with Basic: bound too.
    let (id, secret) = app
        .create_secret_client("acme", json!({"tls_client_certificate_bound_access_tokens": true}))
        .await;
    let any = pki::self_signed(&CertSpec::default());
    let res = any
        .client(&[])
        .post(format!("{}/t/acme/oauth2/token", app.mtls_url))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let r = tessera_testkit::reply(res).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        jwt_part(r.body["access_token"].as_str().unwrap(), 1)["cnf"]["x5t#S256"],
        thumbprint(&any)
    );
    // private_key_jwt over the mTLS listener, bound: the assertion's aud may be the alias.
    let key = crate::assertions::partner_key("ES256", "k1");
    register(
        &app,
        "acme",
        "pk",
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key.jwk.clone()]},
               "tls_client_certificate_bound_access_tokens": true}),
    )
    .await;
    let alias = format!("{}/t/acme/oauth2/token", app.mtls_url);
    let a = crate::assertions::assertion(key.signer.as_ref(), Some("k1"), "pk", &alias, json!({}));
    let r = app
        .token_mtls(
            &any.client(&[]),
            "acme",
            &[
                CC,
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &a),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        jwt_part(r.body["access_token"].as_str().unwrap(), 1)["cnf"]["x5t#S256"],
        thumbprint(&any)
    );
    // Without a certificate: refused.
    let r = app.token_basic("acme", &id, &secret, &[CC]).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    // An unbound client presenting a certificate gets an unbound token.
    let (plain, plain_secret) = app.create_secret_client("acme", json!({})).await;
    let res = any
        .client(&[])
        .post(format!("{}/t/acme/oauth2/token", app.mtls_url))
        .basic_auth(&plain, Some(&plain_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    let r = tessera_testkit::reply(res).await;
    assert!(jwt_part(r.body["access_token"].as_str().unwrap(), 1)
        .get("cnf")
        .is_none());
}

async fn metadata_and_registration_for_mtls(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let m = app
        .get_json("/t/acme/.well-known/oauth-authorization-server")
        .await
        .body;
    assert_eq!(m["tls_client_certificate_bound_access_tokens"], true);
    assert_eq!(
        m["mtls_endpoint_aliases"]["token_endpoint"],
        format!("{}/t/acme/oauth2/token", app.mtls_url)
    );
    // Registration checks.
    for (body, field) in [
        (
            tls("tls_client_auth_subject_dn", "CN=a,=b"),
            "tls_client_auth_subject_dn",
        ),
        (tls("tls_client_auth_san_ip", "not-an-ip"), "tls_client_auth_san_ip"),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth"}),
            "tls_client_auth_subject_dn",
        ),
        (
            json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "a", "tls_client_auth_san_uri": "b"}),
            "tls_client_auth_san_uri",
        ),
        (
            json!({"token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}}),
            "jwks",
        ),
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
    // Trust anchors: a CA only, one at a time; a tenant admin sees only its own.
    let leaf = pki::self_signed(&CertSpec::default());
    for pem in ["not a pem".to_owned(), leaf.cert_pem()] {
        let r = app
            .admin(Method::POST, "/tenants/acme/trust-anchors", Some(json!({"pem": pem})))
            .await;
        assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    }
    let anchor = add_anchor(&app, "acme", &pki::ca("Acme CA")).await;
    assert!(anchor["subject"].as_str().unwrap().contains("Acme CA"));
    app.create_tenant("globex", json!({})).await;
    let (gid, gsecret) = app
        .create_secret_client("globex", json!({"scope": "tessera:tenant-admin"}))
        .await;
    let token = app.access_token("globex", &gid, &gsecret).await;
    assert_eq!(
        app.admin_as(&token, Method::GET, "/tenants/acme/trust-anchors", None)
            .await
            .status,
        404
    );
    let r = app
        .admin_as(&token, Method::GET, "/tenants/globex/trust-anchors", None)
        .await;
    assert_eq!(r.body["trust_anchors"], json!([]));
}

async fn proxy_header_is_honoured_from_trusted_peers_only(backend: Backend) {
    let db = std::sync::Arc::new(tessera_testkit::TestDb::new(backend).unwrap());
    let app = TestApp::spawn_on(db, |c| {
        c.proxy = Some(tessera_server::config::ProxyConfig {
            client_cert_header: "Client-Cert".into(),
            client_cert_format: "rfc9440".into(),
            trusted_peers: vec!["127.0.0.1/32".into()],
            client_ip_header: None,
        });
    })
    .await;
    let cred = bound_dns_client(&app, "p1").await;
    use base64::Engine;
    let header = format!(":{}:", base64::engine::general_purpose::STANDARD.encode(cred.der()));
    let send = |client: reqwest::Client, value: String| {
        let url = app.url("/t/acme/oauth2/token");
        async move {
            let res = client
                .post(url)
                .header("client-cert", value)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&client_id=p1")
                .send()
                .await
                .unwrap();
            tessera_testkit::reply(res).await
        }
    };
    // From 127.0.0.1 (trusted): the forwarded certificate authenticates and binds.
    let r = send(app.client.clone(), header.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        jwt_part(r.body["access_token"].as_str().unwrap(), 1)["cnf"]["x5t#S256"],
        thumbprint(&cred)
    );
    // From 127.0.0.2 (untrusted): ignored, so no certificate.
    let untrusted = tessera_testkit::https_client_from("127.0.0.2".parse().unwrap());
    let r = send(untrusted, header.clone()).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{:?}", r.body);
    // Malformed values from the trusted peer: 401, never 5xx.
    for bad in ["garbage", ":!!!:", ":AAAA:", &format!("{}:", &header[..41])] {
        let r = send(app.client.clone(), bad.to_owned()).await;
        assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{bad}");
    }
}

/// A real third-party client, curl, gets a bound token over mTLS.
#[actix_web::test]
async fn curl_gets_a_bound_token() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let ca = pki::ca("Acme Partners CA");
    add_anchor(&app, "acme", &ca).await;
    let cred = pki::client_cert(
        &ca,
        &CertSpec {
            uris: &["spiffe://acme/curl"],
            ..CertSpec::default()
        },
    );
    let mut meta = tls("tls_client_auth_san_uri", "spiffe://acme/curl");
    meta["tls_client_certificate_bound_access_tokens"] = json!(true);
    register(&app, "acme", "curl", meta).await;
    let dir = tessera_testkit::temp_dir("curl");
    std::fs::write(dir.join("c.pem"), cred.cert_pem()).unwrap();
    std::fs::write(dir.join("c.key"), cred.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let ca_file = tessera_testkit::test_certs().ca_cert.display().to_string();
    let url = format!("{}/t/acme/oauth2/token", app.mtls_url);
    let out = actix_web::rt::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .current_dir(&dir)
            .args(["-s", "--cacert", &ca_file, "--cert", "c.pem", "--key", "c.key"])
            .args(["-d", "grant_type=client_credentials", "-d", "client_id=curl", &url])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let answer: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)));
    let claims = jwt_part(answer["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["cnf"]["x5t#S256"], thumbprint(&cred));
}

async fn revoked_certificates_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let ca = pki::ca("Acme Partners CA");
    let anchor = add_anchor(&app, "acme", &ca).await;
    let id = anchor["id"].as_str().unwrap();
    let revoked = pki::client_cert(
        &ca,
        &CertSpec {
            dns: &["p.example"],
            ..CertSpec::default()
        },
    );
    let fine = pki::client_cert(
        &ca,
        &CertSpec {
            dns: &["p.example"],
            ..CertSpec::default()
        },
    );
    register(&app, "acme", "p1", tls("tls_client_auth_san_dns", "p.example")).await;
    assert_eq!(
        app.token_mtls(&revoked.client(&[]), "acme", &[CC, ("client_id", "p1")])
            .await
            .status,
        200
    );
    // A CRL that some other CA signed is refused.
    let other = pki::ca("Other CA");
    let path = format!("/tenants/acme/trust-anchors/{id}");
    let r = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"crl_pem": pki::crl(&other, &[&revoked])})),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (400, "invalid_request"));
    let r = app
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"crl_pem": pki::crl(&ca, &[&revoked])})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .token_mtls(&revoked.client(&[]), "acme", &[CC, ("client_id", "p1")])
        .await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));
    assert!(r.body["error_description"].as_str().unwrap().contains("revoked"));
    assert_eq!(
        app.token_mtls(&fine.client(&[]), "acme", &[CC, ("client_id", "p1")])
            .await
            .status,
        200
    );
    // Removing the CRL lifts the revocation.
    app.admin(Method::PATCH, &path, Some(json!({"crl_pem": null}))).await;
    assert_eq!(
        app.token_mtls(&revoked.client(&[]), "acme", &[CC, ("client_id", "p1")])
            .await
            .status,
        200
    );
}

backend_tests!(
    revoked_certificates_are_refused,
    proxy_header_is_honoured_from_trusted_peers_only,
    tls_client_auth_by_subject_dn_and_each_san,
    untrusted_or_invalid_certificates_are_invalid_client,
    self_signed_certificates_match_exactly,
    bound_tokens_carry_the_certificate_thumbprint,
    metadata_and_registration_for_mtls,
);
