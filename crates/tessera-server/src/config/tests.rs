use super::*;
use std::io::Write;

fn file(text: &str) -> tempfile_lite::TempFile {
    let f = tempfile_lite::TempFile::new();
    std::fs::File::create(&f.path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    f
}

/// A file under the system temp dir, removed on drop.
mod tempfile_lite {
    pub struct TempFile {
        pub path: std::path::PathBuf,
    }
    impl TempFile {
        pub fn new() -> Self {
            let mut b = [0u8; 8];
            openssl::rand::rand_bytes(&mut b).unwrap();
            let name = format!(
                "tessera-config-{}.toml",
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            );
            Self {
                path: std::env::temp_dir().join(name),
            }
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn defaults_without_file() {
    let c = Config::load(None, no_env()).unwrap();
    assert_eq!(c.public_url, "https://127.0.0.1:8443");
    assert_eq!(c.database.url, "sqlite://data/tessera.db");
    assert_eq!(c.http.max_body_bytes, 65536);
}

#[test]
fn client_timeouts_have_bounded_defaults() {
    let c = Config::load(None, no_env()).unwrap();
    assert_eq!(c.http.client_request_timeout_secs, 10);
    assert_eq!(c.http.body_timeout_secs, 10);
    assert_eq!(c.http.keep_alive_secs, 5);
    assert_eq!(c.http.tls_handshake_timeout_secs, 5);
    let f = file("[http]\nkeep_alive_secs = 0\nbody_timeout_secs = 1");
    let c = Config::load(Some(&f.path), no_env()).unwrap();
    assert_eq!((c.http.keep_alive_secs, c.http.body_timeout_secs), (0, 1));
}

#[test]
fn reads_the_interface_example() {
    let f = file(
        r#"
public_url = "https://as.example"
[database]
url = "postgres://u@h/db"
[keys]
master_key_file = "data/master.key"
[http]
listen = "0.0.0.0:8443"
tls_cert = "certs/server.pem"
tls_key = "certs/server.key"
[mtls]
listen = "127.0.0.1:8444"
public_url = "https://127.0.0.1:8444"
[admin]
bootstrap_token = "0123456789abcdef0123456789abcdef"
[outbound]
allow_private_networks = false
ca_file = "/etc/ssl/private-pki.pem"
[proxy]
client_cert_header = "Client-Cert"
client_cert_format = "rfc9440"
trusted_peers = ["127.0.0.1/32"]
"#,
    );
    let c = Config::load(Some(&f.path), no_env()).unwrap();
    assert_eq!(c.database.url, "postgres://u@h/db");
    assert_eq!(c.mtls.unwrap().listen, "127.0.0.1:8444");
    assert_eq!(c.proxy.unwrap().trusted_peers, vec!["127.0.0.1/32"]);
}

#[test]
fn unknown_keys_are_named() {
    let f = file("[http]\nlisten = \"127.0.0.1:1\"\nlisten_port = 5\n");
    let e = Config::load(Some(&f.path), no_env()).unwrap_err().to_string();
    assert!(e.contains("listen_port"), "{e}");
    let f = file("colour = \"blue\"\n");
    let e = Config::load(Some(&f.path), no_env()).unwrap_err().to_string();
    assert!(e.contains("colour"), "{e}");
    let f = file("[databse]\nurl = \"x\"\n");
    let e = Config::load(Some(&f.path), no_env()).unwrap_err().to_string();
    assert!(e.contains("databse"), "{e}");
}

#[test]
fn environment_overrides_the_file() {
    let f = file("[database]\nurl = \"sqlite://a.db\"\n");
    let env = vec![
        ("TESSERA_DATABASE_URL".to_owned(), "sqlite://b.db".to_owned()),
        ("TESSERA_HTTP_WORKERS".to_owned(), "3".to_owned()),
        ("TESSERA_OUTBOUND_ALLOW_PRIVATE_NETWORKS".to_owned(), "true".to_owned()),
        ("TESSERA_ADMIN_BOOTSTRAP_TOKEN".to_owned(), "1".repeat(40)),
        ("TESSERA_MASTER_KEY".to_owned(), "abc".to_owned()),
        ("TESSERA_PUBLIC_URL".to_owned(), "https://as.example/".to_owned()),
        ("OTHER".to_owned(), "ignored".to_owned()),
    ];
    let c = Config::load(Some(&f.path), env).unwrap();
    assert_eq!(c.database.url, "sqlite://b.db");
    assert_eq!(c.http.workers, Some(3));
    assert!(c.outbound.allow_private_networks);
    assert_eq!(c.admin.bootstrap_token.as_deref(), Some("1".repeat(40).as_str()));
    assert_eq!(c.keys.master_key.as_deref(), Some("abc"));
    assert_eq!(c.public_base(), "https://as.example");
}

#[test]
fn bad_environment_keys_are_named() {
    let e = Config::load(None, vec![("TESSERA_HTTP_LISTN".to_owned(), "x".to_owned())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("listn"), "{e}");
    let e = Config::load(None, vec![("TESSERA_NOPE_X".to_owned(), "x".to_owned())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("TESSERA_NOPE_X"), "{e}");
    let e = Config::load(None, vec![("TESSERA_HTTP_WORKERS".to_owned(), "many".to_owned())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("TESSERA_HTTP_WORKERS"), "{e}");
}

#[test]
fn masked_output_hides_secrets() {
    let env = vec![
        ("TESSERA_ADMIN_BOOTSTRAP_TOKEN".to_owned(), "s".repeat(40)),
        ("TESSERA_MASTER_KEY".to_owned(), "bWFzdGVy".to_owned()),
        (
            "TESSERA_DATABASE_URL".to_owned(),
            "postgres://u:hunter2@db/x".to_owned(),
        ),
        (
            "TESSERA_RATELIMIT_REDIS_URL".to_owned(),
            "redis://:swordfish@cache:6379/0".to_owned(),
        ),
    ];
    let config = Config::load(None, env).unwrap();
    let text = config.to_masked_toml();
    assert!(
        !text.contains(&"s".repeat(40))
            && !text.contains("bWFzdGVy")
            && !text.contains("hunter2")
            && !text.contains("swordfish"),
        "{text}"
    );
    assert!(text.contains("public_url") && text.contains("<set, masked>"), "{text}");
    // Debug (what a log line would show) hides them as well.
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(&"s".repeat(40)) && !debug.contains("bWFzdGVy") && !debug.contains("hunter2"),
        "{debug}"
    );
    assert!(debug.contains("postgres://u:masked@db/x"), "{debug}");
}

#[test]
fn invalid_values_are_named() {
    for (text, key) in [
        ("public_url = \"ftp://x\"", "public_url"),
        ("[http]\nlisten = \"nowhere\"", "http.listen"),
        ("[http]\ntls_cert = \"a.pem\"", "http.tls_cert"),
        ("[admin]\nbootstrap_token = \"short\"", "admin.bootstrap_token"),
        ("[log]\nformat = \"xml\"", "log.format"),
        ("[ratelimit]\nredis_url = \"http://cache\"", "ratelimit.redis_url"),
        ("[ratelimit]\nwindow_secs = 0", "ratelimit.window_secs"),
        ("[ratelimit]\nclient_requests = 100000001", "ratelimit.client_requests"),
        ("[ratelimit]\nsync_interval_ms = 5", "ratelimit.sync_interval_ms"),
        ("[ratelimit]\nkey_prefix = \"\"", "ratelimit.key_prefix"),
        (
            "[http]\nclient_request_timeout_secs = 0",
            "http.client_request_timeout_secs",
        ),
        ("[http]\nbody_timeout_secs = 0", "http.body_timeout_secs"),
        (
            "[http]\ntls_handshake_timeout_secs = 3601",
            "http.tls_handshake_timeout_secs",
        ),
        ("[http]\nkeep_alive_secs = 3601", "http.keep_alive_secs"),
    ] {
        let f = file(text);
        let e = Config::load(Some(&f.path), no_env()).unwrap_err().to_string();
        assert!(e.starts_with(key), "{e}");
    }
}
