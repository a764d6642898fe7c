//! Interoperability with a real third-party client library: Python's Authlib
//! gets tokens with private_key_jwt and client_secret_jwt. `scripts/test`
//! installs it (e2e/interop/requirements.txt) in a virtual environment and
//! names its interpreter in TESSERA_TEST_PYTHON.

use crate::assertions::partner_jwk_from_pem;
use reqwest::Method;
use serde_json::{json, Value};
use tessera_testkit::{test_certs, Backend, TestApp};

#[actix_web::test]
async fn authlib_gets_tokens_with_private_key_jwt_and_client_secret_jwt() {
    let Ok(python) = std::env::var("TESSERA_TEST_PYTHON") else {
        eprintln!("skipped: TESSERA_TEST_PYTHON is not set (scripts/test sets it)");
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.create_tenant("acme", json!({})).await;
    let dir = tessera_testkit::temp_dir("interop");
    let key = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let pkey = openssl::pkey::PKey::from_ec_key(key).unwrap();
    let key_file = dir.join("partner.key");
    std::fs::write(&key_file, pkey.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let jwk = partner_jwk_from_pem(&pkey.private_key_to_pem_pkcs8().unwrap(), "authlib-1");
    let r = app
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "authlib", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]}})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "authlib-mac", "token_endpoint_auth_method": "client_secret_jwt"})),
        )
        .await;
    let secret = r.body["client_secret"].as_str().unwrap().to_owned();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../e2e/interop/authlib_private_key_jwt.py"
    );
    let token_url = format!("{}/oauth2/token", app.issuer("acme"));
    let args = vec![
        script.to_owned(),
        token_url,
        test_certs().ca_cert.display().to_string(),
        "authlib".into(),
        key_file.display().to_string(),
        "authlib-1".into(),
        "authlib-mac".into(),
        secret,
    ];
    let out = actix_web::rt::task::spawn_blocking(move || std::process::Command::new(python).args(args).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(tokens.len(), 2);
    for (token, client) in tokens.iter().zip(["authlib", "authlib-mac"]) {
        let claims = crate::jwks::verify_with_jwks(&app, "acme", token["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(claims["client_id"], client);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
