//! The compose topology natively: the real nginx, configured from the very
//! template docker-compose.yml uses (`deploy/nginx/tessera.conf.template`),
//! terminating TLS in front of two instances, round robin, forwarding the
//! client certificate in `X-Client-Cert`. mTLS clients get certificate-bound
//! tokens through it; a client cannot smuggle a certificate header past it.
//!
//! nginx is found as `TESSERA_TEST_NGINX`, on `PATH` or at `/usr/sbin/nginx`
//! (`TESSERA_TEST_NGINX=` empty: as if missing).
//! When it is missing, the test says so loudly and checks only the header
//! as nginx would send it (CI sets `TESSERA_TEST_REQUIRE_NGINX=1`: then a
//! missing nginx fails the test).

use super::{holds_before, postgres_or_skip, Fleet, CERT_HEADER, PROPAGATION};
use crate::cli::{free_port, sigterm, wait_exit, wait_for_port};
use reqwest::Method;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera_testkit::pki::{self, CertSpec, Credential};
use tessera_testkit::{encode_form, jwt_part, reply, test_certs, Reply};

const CC: (&str, &str) = ("grant_type", "client_credentials");

/// `TESSERA_TEST_NGINX` set but empty: do without (to exercise the fallback).
fn nginx_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TESSERA_TEST_NGINX") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("nginx"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|p| p.is_file())
}

/// The compose file's nginx template with its `${NAME}` placeholders filled.
fn render_template(vars: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nginx/tessera.conf.template");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (name, value) in vars {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    assert!(
        !text.contains("${"),
        "unfilled placeholder in {}:\n{text}",
        path.display()
    );
    text
}

/// nginx running in the foreground from a temporary prefix.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    fn start(binary: &Path, port: u16, upstreams: [u16; 2]) -> Nginx {
        let dir = tessera_testkit::temp_dir("nginx");
        let certs = test_certs();
        let site = render_template(&[
            ("TESSERA_UPSTREAM_1", format!("127.0.0.1:{}", upstreams[0])),
            ("TESSERA_UPSTREAM_2", format!("127.0.0.1:{}", upstreams[1])),
            ("PROXY_LISTEN", format!("127.0.0.1:{port}")),
            ("PROXY_TLS_CERT", certs.server_cert.display().to_string()),
            ("PROXY_TLS_KEY", certs.server_key.display().to_string()),
        ]);
        std::fs::write(dir.join("tessera.conf"), site).unwrap();
        let d = dir.display();
        // What the nginx image's own nginx.conf provides around conf.d/, with
        // every path in the temporary prefix (no root needed, any port).
        let main = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  log_format upstreams '$status $upstream_addr';\n  access_log {d}/access.log upstreams;\n\
             \x20 client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
             \x20 uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/tessera.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        let mut nginx = Nginx { child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}", nginx.logs());
            }
            assert!(Instant::now() < deadline, "nginx did not start:\n{}", nginx.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
        wait_for_port(port);
        nginx
    }

    fn logs(&self) -> String {
        ["stderr.log", "error.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `$status $upstream_addr` per request.
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- nginx ---\n{}\n{}", self.logs(), self.access_log());
        }
        sigterm(&self.child);
        wait_exit(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The client's certificate as nginx's `$ssl_client_escaped_cert` has it:
/// the PEM, every byte but unreserved ones percent-encoded.
fn escaped_pem(cred: &Credential) -> String {
    cred.cert_pem()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn token_at(client: &reqwest::Client, url: &str, form: &[(&str, &str)], header: Option<&str>) -> Reply {
    let mut req = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(form));
    if let Some(value) = header {
        req = req.header(CERT_HEADER, value);
    }
    reply(req.send().await.unwrap()).await
}

/// Tenant `acme` trusting a fresh CA; a bound `tls_client_auth` client `p1`
/// (SAN DNS p.example) and a `self_signed_tls_client_auth` client `dev7`.
async fn mtls_clients(f: &Fleet) -> (Credential, Credential) {
    f.admin_ok(0, Method::POST, "/tenants", Some(json!({"id": "acme"})))
        .await;
    let ca = pki::ca("Acme Partners CA");
    f.admin_ok(
        0,
        Method::POST,
        "/tenants/acme/trust-anchors",
        Some(json!({"pem": ca.cert_pem()})),
    )
    .await;
    let p1 = pki::client_cert(
        &ca,
        &CertSpec {
            dns: &["p.example"],
            ..CertSpec::default()
        },
    );
    f.admin_ok(
        0,
        Method::POST,
        "/tenants/acme/clients",
        Some(
            json!({"client_id": "p1", "token_endpoint_auth_method": "tls_client_auth",
                    "tls_client_auth_san_dns": "p.example",
                    "tls_client_certificate_bound_access_tokens": true}),
        ),
    )
    .await;
    let dev7 = pki::self_signed(&CertSpec {
        subject: &[("CN", "device-7")],
        ..CertSpec::default()
    });
    f.admin_ok(
        0,
        Method::POST,
        "/tenants/acme/clients",
        Some(
            json!({"client_id": "dev7", "token_endpoint_auth_method": "self_signed_tls_client_auth",
                    "jwks": {"keys": [pki::x5c_jwk(&dev7)]}}),
        ),
    )
    .await;
    (p1, dev7)
}

fn thumbprint(cred: &Credential) -> String {
    tessera_clientauth::mtls::thumbprint_s256(&cred.der())
}

#[actix_web::test]
async fn mtls_clients_through_nginx_reach_both_instances() {
    let Some(db) = postgres_or_skip("mtls_clients_through_nginx_reach_both_instances") else {
        return;
    };
    let nginx = nginx_binary();
    if nginx.is_none() {
        assert!(
            std::env::var("TESSERA_TEST_REQUIRE_NGINX").is_err(),
            "TESSERA_TEST_REQUIRE_NGINX is set but nginx is not installed"
        );
        eprintln!(
            "\n*** nginx not found (apt-get install nginx, or set TESSERA_TEST_NGINX): \
             fleet::mtls_clients_through_nginx_reach_both_instances checks only the \
             header as nginx would send it ***\n"
        );
    }
    let proxy_port = free_port();
    let public = format!("https://127.0.0.1:{proxy_port}");
    let f = Fleet::start(db, 2, &public).await;
    let (p1, dev7) = mtls_clients(&f).await;

    // The header as nginx sends it, straight to an instance: believed from
    // the trusted peer (127.0.0.1), ignored from anyone else (127.0.0.2).
    let p1_form = [CC, ("client_id", "p1")];
    let direct = f.url(1, "/t/acme/oauth2/token");
    let r = token_at(&f.http, &direct, &p1_form, Some(&escaped_pem(&p1))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        jwt_part(r.body["access_token"].as_str().unwrap(), 1)["cnf"]["x5t#S256"],
        thumbprint(&p1)
    );
    let untrusted = tessera_testkit::https_client_from("127.0.0.2".parse().unwrap());
    let r = token_at(&untrusted, &direct, &p1_form, Some(&escaped_pem(&p1))).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{:?}", r.body);

    let Some(binary) = nginx else { return };
    let proxy = Nginx::start(&binary, proxy_port, [f.instances[0].port, f.instances[1].port]);
    let token_url = format!("{public}/t/acme/oauth2/token");

    // tls_client_auth through the proxy: bound tokens, from both instances.
    let p1_client = p1.client(&[]);
    for _ in 0..4 {
        let r = token_at(&p1_client, &token_url, &p1_form, None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let claims = jwt_part(r.body["access_token"].as_str().unwrap(), 1);
        assert_eq!(claims["cnf"]["x5t#S256"], thumbprint(&p1));
        assert_eq!(claims["iss"], f.issuer("acme"));
    }
    let served: Vec<String> = proxy
        .access_log()
        .lines()
        .filter(|l| l.starts_with("200 "))
        .map(|l| l[4..].to_owned())
        .collect();
    for inst in &f.instances {
        let addr = format!("127.0.0.1:{}", inst.port);
        assert!(served.contains(&addr), "{addr} got no request: {served:?}");
    }
    // self_signed_tls_client_auth: nginx lets any certificate through; Tessera decides.
    let r = token_at(&dev7.client(&[]), &token_url, &[CC, ("client_id", "dev7")], None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let impostor = pki::self_signed(&CertSpec {
        subject: &[("CN", "device-7")],
        ..CertSpec::default()
    });
    let r = token_at(&impostor.client(&[]), &token_url, &[CC, ("client_id", "dev7")], None).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"));

    // No certificate, but the header forged: nginx replaces it with nothing.
    let plain = tessera_testkit::https_client();
    for _ in 0..2 {
        let r = token_at(&plain, &token_url, &p1_form, Some(&escaped_pem(&p1))).await;
        assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{:?}", r.body);
    }
    // A forged header beside a real certificate: the real one counts.
    let r = token_at(&dev7.client(&[]), &token_url, &p1_form, Some(&escaped_pem(&p1))).await;
    assert_eq!((r.status.as_u16(), r.error()), (401, "invalid_client"), "{:?}", r.body);

    // The certificate is optional: secret clients and discovery need none.
    // (A client registered on one instance is known to all within a second.)
    let secret = f
        .admin_ok(
            0,
            Method::POST,
            "/tenants/acme/clients",
            Some(json!({"client_id": "s1"})),
        )
        .await["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + PROPAGATION;
    let basic = async || {
        let res = plain
            .post(&token_url)
            .basic_auth("s1", Some(&secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(&[CC]))
            .send()
            .await
            .unwrap();
        res.status() == 200
    };
    // Two in a row: both instances (round robin).
    assert!(holds_before(deadline, async || basic().await && basic().await).await);
    let meta = reply(
        plain
            .get(format!("{}/.well-known/oauth-authorization-server", f.issuer("acme")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(meta.body["token_endpoint"], token_url);
}
