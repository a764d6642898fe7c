//! The `tessera` binary: help, configuration errors, operator commands, the
//! demo, and graceful shutdown on SIGTERM.

use reqwest::Method;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_testkit::{Backend, TestApp, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// A command with a clean environment: no TESSERA_* variables from the test run.
pub(crate) fn tessera(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("TESSERA_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs `cmd` to its end; its log (standard error) is kept for the leak check.
pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("tessera runs");
    tessera_testkit::logs::keep_process_log("cli", &out.stderr);
    out
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

pub(crate) fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn help_explains_the_commands() {
    let dir = tessera_testkit::temp_dir("help");
    let o = run(tessera(&dir).arg("--help"));
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for word in [
        "serve",
        "migrate",
        "tenant",
        "client",
        "keys",
        "dev-certs",
        "--config",
        "serve --demo",
    ] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
    let o = run(tessera(&dir).args(["serve", "--help"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--demo"));
    let o = run(tessera(&dir).args(["client", "create", "--help"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--scope"));
}

#[test]
fn config_check_validates_and_masks() {
    let dir = tessera_testkit::temp_dir("check");
    let cfg = dir.join("tessera.toml");
    std::fs::write(
        &cfg,
        "[admin]\nbootstrap_token = \"0123456789abcdef0123456789abcdef-secret\"\n",
    )
    .unwrap();
    let o = run(tessera(&dir).args(["config", "check", cfg.to_str().unwrap()]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("configuration is valid") && out.contains("<set, masked>"),
        "{out}"
    );
    assert!(!out.contains("-secret"));
    std::fs::write(&cfg, "[http]\nlistn = \"x\"\n").unwrap();
    let o = run(tessera(&dir).args(["config", "check", cfg.to_str().unwrap()]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("listn"), "{}", stderr(&o));
}

#[test]
fn configuration_errors_name_the_bad_key() {
    let dir = tessera_testkit::temp_dir("cfg");
    let cfg = dir.join("tessera.toml");
    std::fs::write(&cfg, "[http]\nlisten_addr = \"127.0.0.1:1\"\n").unwrap();
    let o = run(tessera(&dir).args(["--config", cfg.to_str().unwrap(), "migrate"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("listen_addr"), "{}", stderr(&o));

    std::fs::write(&cfg, "[http]\nlisten = \"nowhere\"\n").unwrap();
    let o = run(tessera(&dir).args(["--config", cfg.to_str().unwrap(), "migrate"]));
    assert!(stderr(&o).contains("http.listen"), "{}", stderr(&o));

    let o = run(tessera(&dir)
        .arg("migrate")
        .env("TESSERA_DATABASE_URLL", "sqlite://x.db"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("url"), "{}", stderr(&o));

    let o = run(tessera(&dir).args(["--config", "/nonexistent/tessera.toml", "migrate"]));
    assert!(stderr(&o).contains("/nonexistent/tessera.toml"), "{}", stderr(&o));

    // No master key: the error says how to make one.
    let o = run(tessera(&dir)
        .arg("migrate")
        .env("TESSERA_DATABASE_URL", "sqlite://x.db"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("TESSERA_MASTER_KEY"), "{}", stderr(&o));
    let o = run(tessera(&dir)
        .arg("migrate")
        .env("TESSERA_DATABASE_URL", "sqlite://x.db")
        .env("TESSERA_MASTER_KEY", "short"));
    assert!(stderr(&o).contains("master_key"), "{}", stderr(&o));
}

pub(crate) fn cli_with_db(dir: &Path, db: &TestDb) -> Command {
    let mut cmd = tessera(dir);
    cmd.env("TESSERA_DATABASE_URL", &db.url)
        .env("TESSERA_MASTER_KEY", &db.master_key);
    cmd
}

pub(crate) fn json_out(o: &Output) -> Value {
    assert!(o.status.success(), "{:?}: {}", o.status, stderr(o));
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&o.stdout)));
    tessera_testkit::logs::register_secrets_in(&v);
    v
}

async fn cli_manages_tenants_clients_and_keys(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let dir = tessera_testkit::temp_dir("cli");
    assert!(run(cli_with_db(&dir, &db).arg("migrate")).status.success());
    let t = json_out(&run(cli_with_db(&dir, &db).args([
        "tenant",
        "create",
        "acme",
        "--display-name",
        "Acme",
    ])));
    assert_eq!(t["display_name"], "Acme");
    let o = run(cli_with_db(&dir, &db).args(["tenant", "create", "Bad!"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("id"), "{}", stderr(&o));
    let c = json_out(&run(
        cli_with_db(&dir, &db).args(["client", "create", "acme", "--id", "c1", "--scope", "a b"])
    ));
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    let list = json_out(&run(cli_with_db(&dir, &db).args(["client", "list", "acme"])));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));
    let tenants = json_out(&run(cli_with_db(&dir, &db).args(["tenant", "list"])));
    assert_eq!(tenants.as_array().unwrap().len(), 2, "acme and system");

    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let r = app
        .token_basic("acme", "c1", &secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let first_kid = tessera_testkit::jwt_part(r.body["access_token"].as_str().unwrap(), 0)["kid"].clone();

    // Keys rotated from the CLI: the running server signs with the new key within its poll.
    let keys = json_out(&run(cli_with_db(&dir, &db).args(["keys", "rotate", "acme"])));
    assert_eq!(
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| k["state"] == "active")
            .count(),
        1
    );
    let mut rotated = false;
    for _ in 0..50 {
        let t = app.access_token("acme", "c1", &secret).await;
        if tessera_testkit::jwt_part(&t, 0)["kid"] != first_kid {
            rotated = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "server did not pick up the CLI's key rotation");

    // Trust anchors from the CLI.
    let ca = tessera_testkit::pki::ca("CLI CA");
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    let anchor = json_out(&run(cli_with_db(&dir, &db).args([
        "trust-anchor",
        "add",
        "acme",
        "--pem-file",
        "ca.pem",
    ])));
    let anchor_id = anchor["id"].as_str().unwrap().to_owned();
    std::fs::write(dir.join("crl.pem"), tessera_testkit::pki::crl(&ca, &[])).unwrap();
    let with_crl = json_out(&run(cli_with_db(&dir, &db).args([
        "trust-anchor",
        "set-crl",
        "acme",
        &anchor_id,
        "--crl-file",
        "crl.pem",
    ])));
    assert!(with_crl["crl_pem"].is_string());
    let anchors = json_out(&run(cli_with_db(&dir, &db).args(["trust-anchor", "list", "acme"])));
    assert_eq!(anchors.as_array().unwrap().len(), 1);
    let o = run(cli_with_db(&dir, &db).args(["trust-anchor", "add", "acme", "--pem-file", "crl.pem"]));
    assert!(!o.status.success() && stderr(&o).contains("pem"), "{}", stderr(&o));
    assert!(
        run(cli_with_db(&dir, &db).args(["trust-anchor", "delete", "acme", &anchor_id]))
            .status
            .success()
    );

    // Disabled from the CLI: refused within the poll.
    json_out(&run(cli_with_db(&dir, &db).args(["client", "disable", "acme", "c1"])));
    let mut refused = false;
    for _ in 0..50 {
        if app
            .token_basic("acme", "c1", &secret, &[("grant_type", "client_credentials")])
            .await
            .status
            == 401
        {
            refused = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused);
    let rotated = json_out(&run(cli_with_db(&dir, &db).args([
        "client",
        "rotate-secret",
        "acme",
        "c1",
    ])));
    assert_ne!(rotated["client_secret"], secret.as_str());
    assert!(run(cli_with_db(&dir, &db).args(["client", "delete", "acme", "c1"]))
        .status
        .success());
    let o = run(cli_with_db(&dir, &db).args(["client", "show", "acme", "c1"]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not found"));
    // The audit log records the CLI as the actor.
    let audit = app.admin(Method::GET, "/tenants/acme/audit", None).await;
    assert!(audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"].as_str().unwrap().starts_with("cli:")));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the demo in `dir` on `port` (mTLS on `mtls_port`: its own free
/// port, since `port + 1` may be another test's); returns the child and the
/// printed client secret once it serves.
fn start_demo(dir: &Path, port: u16, mtls_port: u16) -> (Child, String) {
    let stderr_path = dir.join("demo-stderr.log");
    let mut child = tessera(dir)
        .args(["serve", "--demo"])
        .env("TESSERA_HTTP_LISTEN", format!("127.0.0.1:{port}"))
        .env("TESSERA_PUBLIC_URL", format!("https://127.0.0.1:{port}"))
        .env("TESSERA_HTTP_SHUTDOWN_TIMEOUT_SECS", "3")
        .env("TESSERA_MTLS_LISTEN", format!("127.0.0.1:{mtls_port}"))
        .env("TESSERA_MTLS_PUBLIC_URL", format!("https://127.0.0.1:{mtls_port}"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Read every line (to EOF) so the server never writes into a closed pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("curl --cacert certs/ca.pem -u demo-client:") {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    let secret = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|e| {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        panic!("the demo printed no curl command ({e}); its stderr:\n{stderr}")
    });
    wait_for_port(port);
    (child, secret)
}

#[actix_web::test]
async fn demo_runs_from_an_empty_directory_and_keeps_its_data() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tessera_testkit::temp_dir("demo");
    let (port, mtls_port) = (free_port(), free_port());
    let (mut child, secret) = start_demo(&dir, port, mtls_port);
    let url = format!("https://127.0.0.1:{port}/t/demo/oauth2/token");
    // A new client (no pooled connection) for each request: the server restarts in between.
    let token = async |secret: &str| {
        client_trusting(&dir.join("certs/ca.pem"))
            .post(&url)
            .basic_auth("demo-client", Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap()
    };
    let r = token(&secret).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().starts_with("ey"));
    // The demo's mTLS clients, with curl and the printed files.
    for (client, cert) in [("demo-mtls", "demo-mtls"), ("demo-self-signed", "demo-self-signed")] {
        let out = Command::new("curl")
            .current_dir(&dir)
            .args([
                "-s",
                "--cacert",
                "certs/ca.pem",
                "--cert",
                &format!("certs/{cert}.pem"),
                "--key",
                &format!("certs/{cert}.key"),
            ])
            .args([
                "-d",
                "grant_type=client_credentials",
                "-d",
                &format!("client_id={client}"),
            ])
            .arg(format!("https://127.0.0.1:{mtls_port}/t/demo/oauth2/token"))
            .output()
            .unwrap();
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert!(answer["access_token"].is_string(), "{client}: {answer}");
    }
    // The demo's assertion clients, with `tessera assertion` as the banner prints it.
    let issuer = format!("https://127.0.0.1:{port}/t/demo");
    let jwt_args = ["--kid", "demo-jwt-1", "--key", "certs/demo-jwt.key"];
    let mac_args = ["--secret-file", "data/demo-mac.secret"];
    for (client, extra) in [("demo-jwt", &jwt_args[..]), ("demo-mac", &mac_args[..])] {
        let o = run(tessera(&dir)
            .args(["assertion", "--client-id", client, "--audience", &issuer])
            .args(extra));
        assert!(o.status.success(), "{}", stderr(&o));
        let assertion = String::from_utf8_lossy(&o.stdout).trim().to_owned();
        let out = Command::new("curl")
            .current_dir(&dir)
            .args(["-s", "--cacert", "certs/ca.pem", "-d", "grant_type=client_credentials"])
            .args([
                "-d",
                "client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ])
            .args(["-d", &format!("client_assertion={assertion}")])
            .arg(format!("{issuer}/oauth2/token"))
            .output()
            .unwrap();
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert!(answer["access_token"].is_string(), "{client}: {answer}");
    }
    // The demo's admin UI account signs in with the password it keeps.
    let demo_sign_in = async || {
        let password = std::fs::read_to_string(dir.join("data/admin.password")).unwrap();
        let http = reqwest::Client::builder()
            .tls_backend_rustls()
            .tls_certs_only([
                reqwest::Certificate::from_pem(&std::fs::read(dir.join("certs/ca.pem")).unwrap()).unwrap(),
            ])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = format!("https://127.0.0.1:{port}/admin/login");
        let form = http.get(&login).send().await.unwrap();
        let cookie = form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let html = form.text().await.unwrap();
        let token = html
            .split("name=\"login_token\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let body = tessera_testkit::encode_form(&[
            ("login_token", &token),
            ("username", "admin"),
            ("password", password.trim()),
        ]);
        let r = http
            .post(&login)
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.headers().get("set-cookie").is_some())
    };
    assert_eq!(demo_sign_in().await, (303, true));

    sigterm(&child);
    assert!(wait_exit(&mut child).success());

    // Restarted: the same data, the same secret, the same admin password.
    let (mut child, secret2) = start_demo(&dir, port, mtls_port);
    assert_eq!(secret, secret2);
    assert_eq!(token(&secret).await.status(), 200);
    assert_eq!(demo_sign_in().await, (303, true));
    sigterm(&child);
    wait_exit(&mut child);
    for f in [
        "data/tessera.db",
        "data/master.key",
        "certs/ca.pem",
        "certs/server.key",
        "certs/demo-mtls.key",
        "certs/demo-self-signed.pem",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tessera admin-user …` with `stdin` as standard input.
fn admin_user(dir: &Path, db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut child = cli_with_db(dir, db)
        .arg("admin-user")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn signs_in(db: &TestDb, username: &str, password: &str) -> bool {
    let mut config = tessera_server::config::Config::load(None, Vec::new()).unwrap();
    config.database.url = db.url.clone();
    config.keys.master_key = Some(db.master_key.clone());
    let services = tessera_server::app::open_services(&config).unwrap();
    let policy = tessera_server::http::ui::policy_from_config(&config.admin);
    matches!(
        services.login(username, password, "cli-test", &policy).unwrap(),
        tessera_server::service::LoginOutcome::Success { .. }
    )
}

async fn cli_manages_admin_users(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).unwrap());
    let dir = tessera_testkit::temp_dir("cli-users");
    assert!(run(cli_with_db(&dir, &db).args(["tenant", "create", "acme"]))
        .status
        .success());

    // A password from standard input.
    let u = json_out(&admin_user(
        &dir,
        &db,
        &["create", "root", "--global", "--password-stdin"],
        "a long password 1\n",
    ));
    assert_eq!(
        (u["username"].as_str(), u["role"].as_str()),
        (Some("root"), Some("global-admin"))
    );
    assert!(!u.to_string().contains("argon2"), "no hash shown");
    assert!(signs_in(&db, "root", "a long password 1"));
    assert!(!signs_in(&db, "root", "a long password 1\n"));

    // A generated password, printed once.
    let o = admin_user(&dir, &db, &["create", "alice", "--tenant", "acme"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_owned();
    assert!(password.len() >= 24, "{password}");
    assert!(signs_in(&db, "alice", &password));

    // Refusals name the problem.
    for (args, stdin, says) in [
        (
            vec!["create", "bob", "--tenant", "nope", "--password-stdin"],
            "a long password 2",
            "tenant",
        ),
        (
            vec!["create", "bob", "--global", "--password-stdin"],
            "short",
            "password",
        ),
        (
            vec!["create", "Bad Name", "--global", "--password-stdin"],
            "a long password 2",
            "username",
        ),
        (
            vec!["create", "root", "--global", "--password-stdin"],
            "a long password 2",
            "already exists",
        ),
        (vec!["create", "bob"], "", "--tenant"),
        (
            vec!["reset-password", "nobody", "--password-stdin"],
            "a long password 2",
            "not found",
        ),
    ] {
        let o = admin_user(&dir, &db, &args, stdin);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }

    // Reset and delete.
    let o = admin_user(
        &dir,
        &db,
        &["reset-password", "alice", "--password-stdin"],
        "a new long password",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!signs_in(&db, "alice", &password));
    assert!(signs_in(&db, "alice", "a new long password"));
    let list = json_out(&admin_user(&dir, &db, &["list"], ""));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["tenant"], "acme");
    assert!(admin_user(&dir, &db, &["delete", "alice"], "").status.success());
    assert!(!signs_in(&db, "alice", "a new long password"));

    // Each change is audited, without passwords.
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let audit = app.admin(Method::GET, "/tenants/acme/audit", None).await;
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["admin_user.create", "admin_user.reset_password", "admin_user.delete"] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    assert!(!audit.body.to_string().contains("a new long password"));
    app.stop().await;
}

backend_tests!(cli_manages_tenants_clients_and_keys, cli_manages_admin_users);

/// A client trusting only the CA in `ca` (PEM).
pub(crate) fn client_trusting(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap()])
        .build()
        .unwrap()
}
