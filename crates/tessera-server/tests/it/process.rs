//! The server as a process: graceful SIGTERM, SIGHUP reloads, start-up
//! warnings, and what its logs hold (and never hold).

use crate::cli::{cli_with_db, client_trusting, free_port, json_out, run, sigterm, tessera, wait_exit, wait_for_port};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera_testkit::{Backend, TestDb};

/// Where a spawned server logs: in the run's log directory when there is
/// one (so that the leak check reads it too), else in `dir`.
pub(crate) fn server_log_path(dir: &Path) -> std::path::PathBuf {
    match tessera_testkit::logs::log_dir() {
        Some(logs) => logs.join(format!(
            "process-serve-{}-{}.log",
            std::process::id(),
            dir.file_name().unwrap().to_string_lossy()
        )),
        None => dir.join("server.log"),
    }
}

/// `tessera [--log-json] serve` over plain HTTP on `listen`, logging to `dir/server.log`.
fn serve_plain(dir: &Path, db: &TestDb, listen: &str, json_logs: bool) -> (Child, std::path::PathBuf) {
    let log = server_log_path(dir);
    let port = listen.rsplit(':').next().unwrap();
    let mut cmd = cli_with_db(dir, db);
    if json_logs {
        // Debug level too: even there, no secret or token may appear.
        cmd.arg("--log-json").env("RUST_LOG", "info,tessera_server=debug");
    }
    let child = cmd
        .arg("serve")
        .env("TESSERA_HTTP_LISTEN", listen)
        .env("TESSERA_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(port.parse().unwrap());
    (child, log)
}

#[actix_web::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let dir = tessera_testkit::temp_dir("shutdown");
    json_out(&run(cli_with_db(&dir, &db).args(["tenant", "create", "acme"])));
    let c = json_out(&run(
        cli_with_db(&dir, &db).args(["client", "create", "acme", "--id", "c1"])
    ));
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    let port = free_port();
    let (mut child, log) = serve_plain(&dir, &db, &format!("127.0.0.1:{port}"), true);

    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("c1:{secret}"));
    let body = "grant_type=client_credentials";
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "POST /t/acme/oauth2/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    std::thread::sleep(Duration::from_millis(500));
    // The server stopped accepting, but the request in flight completes.
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"));
    assert!(wait_exit(&mut child).success());

    // --log-json: every line is a JSON object; the request carried its id;
    // the secret and the token appear nowhere in the log.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log line"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "request done" && l["span"]["request_id"].is_string()),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"].as_str().unwrap_or("").contains("SIGTERM")),
        "{text}"
    );
    // One line per token request, with the documented fields.
    let token_lines: Vec<&Value> = lines.iter().filter(|l| l["message"] == "token request").collect();
    assert_eq!(token_lines.len(), 1, "{text}");
    let t = token_lines[0];
    assert_eq!(
        (
            t["target"].as_str(),
            t["tenant"].as_str(),
            t["client_id"].as_str(),
            t["method"].as_str(),
            t["outcome"].as_str()
        ),
        (
            Some("tessera::token"),
            Some("acme"),
            Some("c1"),
            Some("client_secret_basic"),
            Some("issued")
        ),
        "{t}"
    );
    assert!(t["latency_us"].is_u64() && t["span"]["request_id"].is_string(), "{t}");
    assert!(!text.contains(&secret), "client secret logged");
    let token_start = answer.find("\"access_token\":\"").unwrap() + 16;
    assert!(
        !text.contains(&answer[token_start..token_start + 40]),
        "access token logged"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plain_http_off_loopback_is_warned_about() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let dir = tessera_testkit::temp_dir("plain");
    let (mut child, log) = serve_plain(&dir, &db, &format!("0.0.0.0:{}", free_port()), false);
    // The port is bound before start-up ends: wait until it is serving.
    wait_for_log(&log, "tessera listening", 1);
    sigterm(&child);
    wait_exit(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("plain HTTP on a non-loopback address"), "{text}");

    // On loopback: no warning.
    let (mut child, log) = serve_plain(&dir, &db, &format!("127.0.0.1:{}", free_port()), false);
    wait_for_log(&log, "tessera listening", 1);
    sigterm(&child);
    wait_exit(&mut child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("plain HTTP"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_for_log(log: &Path, needle: &str, occurrences: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches(needle).count() >= occurrences {
            return;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in the log:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sighup(child: &Child) {
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGHUP: a replaced certificate serves the next handshakes (connections
/// already open keep working), a broken one is refused and the old one
/// stays, and the log level is read again from the configuration file.
#[actix_web::test]
async fn sighup_reloads_the_certificate_and_the_log_level() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let dir = tessera_testkit::temp_dir("sighup");
    for set in ["first", "second"] {
        assert!(run(tessera(&dir).args(["dev-certs", "--dir", set])).status.success());
    }
    let install = |set: &str| {
        std::fs::copy(dir.join(set).join("server.pem"), dir.join("server.pem")).unwrap();
        std::fs::copy(dir.join(set).join("server.key"), dir.join("server.key")).unwrap();
    };
    install("first");
    let port = free_port();
    let config = dir.join("tessera.toml");
    let write_config = |level: &str| {
        std::fs::write(
            &config,
            format!(
                "public_url = \"https://127.0.0.1:{port}\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
                 tls_cert = \"server.pem\"\ntls_key = \"server.key\"\n[log]\nlevel = \"{level}\"\n"
            ),
        )
        .unwrap()
    };
    write_config("warn");
    let log = server_log_path(&dir);
    let mut child = cli_with_db(&dir, &db)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(port);
    let url = format!("https://127.0.0.1:{port}/healthz");
    let (first_ca, second_ca) = (dir.join("first/ca.pem"), dir.join("second/ca.pem"));

    let kept_alive = client_trusting(&first_ca);
    assert_eq!(kept_alive.get(&url).send().await.unwrap().status(), 200);
    assert!(client_trusting(&second_ca).get(&url).send().await.is_err());
    assert!(
        !std::fs::read_to_string(&log).unwrap().contains("request done"),
        "warn level"
    );

    install("second");
    write_config("tessera_server=debug,info");
    sighup(&child);
    wait_for_log(&log, "TLS certificate reloaded", 1);
    wait_for_log(&log, "log level reloaded", 1);
    // New handshakes get the new certificate; the open connection goes on.
    assert_eq!(
        client_trusting(&second_ca).get(&url).send().await.unwrap().status(),
        200
    );
    assert!(client_trusting(&first_ca).get(&url).send().await.is_err());
    assert_eq!(kept_alive.get(&url).send().await.unwrap().status(), 200);
    wait_for_log(&log, "request done", 1);

    // A broken file is refused; the certificate in use stays.
    std::fs::write(dir.join("server.pem"), "not a certificate").unwrap();
    sighup(&child);
    wait_for_log(&log, "TLS certificate not reloaded", 1);
    assert_eq!(
        client_trusting(&second_ca).get(&url).send().await.unwrap().status(),
        200
    );

    drop(kept_alive);
    sigterm(&child);
    assert!(wait_exit(&mut child).success());
    let _ = std::fs::remove_dir_all(&dir);
}
