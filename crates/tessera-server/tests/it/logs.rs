//! The server's logs at `trace` level, every crate included, through a full
//! flow of every credential kind: no client secret, assertion, access token,
//! bootstrap token, password, session cookie, CSRF token, private key or
//! master key may appear in them.

use crate::assertions::{assertion, partner_key};
use crate::cli::{cli_with_db, free_port, sigterm, wait_exit, wait_for_port};
use crate::process::server_log_path;
use josekit::jws::HS256;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;
use tessera_testkit::pki::{self, CertSpec};
use tessera_testkit::{encode_form, Backend, TestDb};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const PASSWORD: &str = "a long admin password 0123";

struct Server {
    base: String,
    mtls: String,
    bootstrap: String,
    http: reqwest::Client,
}

impl Server {
    async fn admin(&self, method: Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, format!("{}/admin/v1{path}", self.base))
            .bearer_auth(&self.bootstrap)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn post_form(
        &self,
        client: &reqwest::Client,
        url: String,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(form));
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn token(&self, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> String {
        let url = format!("{}/t/acme/oauth2/token", self.base);
        let (status, body) = self.post_form(&self.http, url, basic, form).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

fn cookie<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
}

fn input(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no input {name}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Signs in to the admin UI; answers (session cookie, CSRF token, login token).
async fn admin_sign_in(base: &str) -> (String, String, String) {
    let http = tessera_testkit::https_client_no_redirects();
    let form = http.get(format!("{base}/admin/login")).send().await.unwrap();
    let login_cookie = cookie(&form, "tessera_login").expect("login cookie").to_owned();
    let login_token = input(&form.text().await.unwrap(), "login_token");
    let r = http
        .post(format!("{base}/admin/login"))
        .header("cookie", format!("tessera_login={login_cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[
            ("login_token", &login_token),
            ("username", "ops"),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = cookie(&r, "tessera_admin").expect("session cookie").to_owned();
    let page = http
        .get(format!("{base}/admin/tenants/acme/clients"))
        .header("cookie", format!("tessera_admin={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csrf = input(&page.text().await.unwrap(), "csrf_token");
    (session, csrf, login_token)
}

async fn trace_logs_hold_no_secret(backend: Backend) {
    let db = TestDb::new(backend).unwrap();
    let dir = tessera_testkit::temp_dir("trace-logs");
    let certs = tessera_testkit::test_certs();
    let bootstrap = format!("bootstrap-{}", tessera_clientauth::generate_secret());
    let o = run_with_stdin(
        cli_with_db(&dir, &db).args(["admin-user", "create", "ops", "--global", "--password-stdin"]),
        PASSWORD,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (port, mtls_port) = (free_port(), free_port());
    let log = server_log_path(&dir);
    let child = cli_with_db(&dir, &db)
        .arg("serve")
        .env("RUST_LOG", "trace")
        .env("TESSERA_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("TESSERA_PUBLIC_URL", format!("https://127.0.0.1:{port}"))
        .env("TESSERA_HTTP_TLS_CERT", &certs.server_cert)
        .env("TESSERA_HTTP_TLS_KEY", &certs.server_key)
        .env("TESSERA_MTLS_LISTEN", format!("127.0.0.1:{mtls_port}"))
        .env("TESSERA_MTLS_PUBLIC_URL", format!("https://127.0.0.1:{mtls_port}"))
        .env("TESSERA_ADMIN_BOOTSTRAP_TOKEN", &bootstrap)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    wait_for_port(port);
    wait_for_port(mtls_port);
    let s = Server {
        base: format!("https://127.0.0.1:{port}"),
        mtls: format!("https://127.0.0.1:{mtls_port}"),
        bootstrap: bootstrap.clone(),
        http: tessera_testkit::https_client(),
    };
    let issuer = format!("{}/t/acme", s.base);
    let mut secrets: Vec<(&str, String)> = vec![("bootstrap token", bootstrap.clone()), ("password", PASSWORD.into())];
    secrets.push(("master key", db.master_key.clone()));

    s.admin(Method::POST, "/tenants", json!({"id": "acme"})).await;
    let basic = s
        .admin(Method::POST, "/tenants/acme/clients", json!({"client_id": "b1"}))
        .await;
    let basic_secret = basic["client_secret"].as_str().unwrap().to_owned();
    let post = s
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            json!({"client_id": "p1", "token_endpoint_auth_method": "client_secret_post"}),
        )
        .await;
    let post_secret = post["client_secret"].as_str().unwrap().to_owned();
    let jwt = s
        .admin(
            Method::POST,
            "/tenants/acme/clients",
            json!({"client_id": "m1", "token_endpoint_auth_method": "client_secret_jwt",
                   "token_endpoint_auth_signing_alg": "HS256"}),
        )
        .await;
    let jwt_secret = jwt["client_secret"].as_str().unwrap().to_owned();
    let key = partner_key("ES256", "k1");
    s.admin(
        Method::POST,
        "/tenants/acme/clients",
        json!({"client_id": "pk", "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [key.jwk]}}),
    )
    .await;
    let ca = pki::ca("Logs CA");
    s.admin(
        Method::POST,
        "/tenants/acme/trust-anchors",
        json!({"pem": ca.cert_pem()}),
    )
    .await;
    s.admin(
        Method::POST,
        "/tenants/acme/clients",
        json!({"client_id": "tls", "token_endpoint_auth_method": "tls_client_auth",
               "tls_client_auth_san_dns": "partner.example"}),
    )
    .await;
    let cred = pki::client_cert(
        &ca,
        &CertSpec {
            dns: &["partner.example"],
            ..CertSpec::default()
        },
    );
    // A rotated secret, too.
    let rotated = s
        .admin(Method::POST, "/tenants/acme/clients/b1/secret", json!({}))
        .await;
    let rotated_secret = rotated["client_secret"].as_str().unwrap().to_owned();

    let cc = ("grant_type", "client_credentials");
    let t_basic = s.token(Some(("b1", &rotated_secret)), &[cc]).await;
    let t_post = s
        .token(None, &[cc, ("client_id", "p1"), ("client_secret", &post_secret)])
        .await;
    let mac = HS256.signer_from_bytes(jwt_secret.as_bytes()).unwrap();
    let a_mac = assertion(&mac, None, "m1", &issuer, json!({}));
    let t_mac = s
        .token(
            None,
            &[cc, ("client_assertion_type", JWT_BEARER), ("client_assertion", &a_mac)],
        )
        .await;
    let a_key = assertion(key.signer.as_ref(), Some("k1"), "pk", &issuer, json!({}));
    let t_key = s
        .token(
            None,
            &[cc, ("client_assertion_type", JWT_BEARER), ("client_assertion", &a_key)],
        )
        .await;
    let mtls_client = cred.client(&[]);
    let (status, body) = s
        .post_form(
            &mtls_client,
            format!("{}/t/acme/oauth2/token", s.mtls),
            None,
            &[cc, ("client_id", "tls")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let t_mtls = body["access_token"].as_str().unwrap().to_owned();
    // A wrong secret and a replayed assertion: failures are logged too.
    let (status, _) = s
        .post_form(
            &s.http,
            format!("{}/t/acme/oauth2/token", s.base),
            Some(("b1", &basic_secret)),
            &[cc],
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = s
        .post_form(
            &s.http,
            format!("{}/t/acme/oauth2/token", s.base),
            None,
            &[cc, ("client_assertion_type", JWT_BEARER), ("client_assertion", &a_key)],
        )
        .await;
    assert_eq!(status, 401, "a replayed assertion is refused");
    for (path, token) in [
        ("introspect", &t_basic),
        ("introspect", &t_post),
        ("revoke", &t_basic),
        ("introspect", &t_basic),
    ] {
        let (status, _) = s
            .post_form(
                &s.http,
                format!("{}/t/acme/oauth2/{path}", s.base),
                Some(("b1", &rotated_secret)),
                &[("token", token)],
            )
            .await;
        assert_eq!(status, 200, "{path}");
    }
    let (session, csrf, login_token) = admin_sign_in(&s.base).await;

    sigterm(&child.0);
    assert!(wait_exit(&mut child.0).success());
    let text = std::fs::read_to_string(&log).unwrap();
    // The level really was trace, for the libraries too.
    assert!(
        text.contains("TRACE") && text.contains("we got a clienthello"),
        "not a trace log"
    );
    assert!(text.contains("request done"), "requests were logged");

    use base64::Engine;
    // The Basic credentials as sent on the wire, too.
    let basic_header = base64::engine::general_purpose::STANDARD.encode(format!("b1:{rotated_secret}"));
    secrets.extend([
        ("basic header", basic_header),
        ("basic secret", basic_secret),
        ("rotated secret", rotated_secret),
        ("post secret", post_secret),
        ("client_secret_jwt secret", jwt_secret),
        ("HMAC assertion", a_mac.clone()),
        ("signed assertion", a_key.clone()),
        ("assertion signature", a_key.rsplit('.').next().unwrap().to_owned()),
        ("token (basic)", t_basic),
        ("token (post)", t_post),
        ("token (mac)", t_mac),
        ("token (key)", t_key),
        ("token (mtls)", t_mtls.clone()),
        ("token signature", t_mtls.rsplit('.').next().unwrap().to_owned()),
        ("session cookie", session),
        ("csrf token", csrf),
        ("login token", login_token),
    ]);
    let private_keys = [
        std::fs::read_to_string(&certs.server_key).unwrap(),
        String::from_utf8(cred.key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
    ];
    for pem in &private_keys {
        // Each base64 line of the key's body.
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            secrets.push(("private key line", line.to_owned()));
        }
    }
    for (what, value) in &secrets {
        assert!(!text.contains(value.as_str()), "{what} appears in the trace log");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A failed assertion must not leave the server running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_with_stdin(cmd: &mut std::process::Command, stdin: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{stdin}").unwrap();
    child.wait_with_output().unwrap()
}

backend_tests!(trace_logs_hold_no_secret);
