//! Several `tessera serve` processes on one PostgreSQL database, the
//! topology of `docker-compose.yml`: plain HTTP instances behind a
//! TLS-terminating proxy that forwards the client certificate in
//! `X-Client-Cert`, sharing one public URL, master key and bootstrap token.
//! They must behave as one server (`consistency.rs`), also through the real
//! nginx with the compose file's own configuration (`nginx.rs`).
//!
//! PostgreSQL only (the scale-out backend): without
//! `TESSERA_TEST_DATABASE_URL` these tests say loudly that they did not run.

mod consistency;
mod nginx;

use crate::cli::{cli_with_db, free_port, sigterm};
use reqwest::Method;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tessera_testkit::{encode_form, reply, Backend, Reply, TestDb, BOOTSTRAP};

/// The documented bound for an admin change to reach every instance.
pub(crate) const PROPAGATION: Duration = Duration::from_secs(1);

/// The proxy header and its format, as in docker-compose.yml.
pub(crate) const CERT_HEADER: &str = "X-Client-Cert";
const CERT_FORMAT: &str = "pem-urlencoded";

/// One `tessera serve` process.
pub(crate) struct Instance {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    pub(crate) port: u16,
    log: PathBuf,
}

/// Instances of one deployment.
pub(crate) struct Fleet {
    pub(crate) db: TestDb,
    pub(crate) dir: PathBuf,
    /// The one issuer base every instance names (the proxy's address).
    pub(crate) public_url: String,
    pub(crate) instances: Vec<Instance>,
    pub(crate) http: reqwest::Client,
}

/// A fresh PostgreSQL schema, or `None` after saying loudly why not.
pub(crate) fn postgres_or_skip(test: &str) -> Option<TestDb> {
    let db = TestDb::new(Backend::Postgres);
    if db.is_none() {
        eprintln!(
            "\n*** NOT RUN: fleet::{test} needs PostgreSQL; set TESSERA_TEST_DATABASE_URL \
             (scripts/test does, and CI always runs it) ***\n"
        );
    }
    db
}

impl Fleet {
    /// `n` instances started at the same moment on `db` (so that they also
    /// race to migrate a fresh database, as a deployment's instances do),
    /// each ready (`/readyz` 200) on return. `public_url`: the proxy's URL.
    pub(crate) async fn start(db: TestDb, n: usize, public_url: &str) -> Fleet {
        // The fleet owns each process from its spawn on: a panic while
        // starting still stops every instance (in `Drop`).
        let mut fleet = Fleet {
            db,
            dir: tessera_testkit::temp_dir("fleet"),
            public_url: public_url.trim_end_matches('/').to_owned(),
            instances: Vec::new(),
            http: tessera_testkit::https_client_no_redirects(),
        };
        for i in 0..n {
            let port = free_port();
            let log = fleet.dir.join(format!("instance-{i}.log"));
            let child = cli_with_db(&fleet.dir, &fleet.db)
                .arg("serve")
                .env("TESSERA_PUBLIC_URL", public_url)
                .env("TESSERA_HTTP_LISTEN", format!("127.0.0.1:{port}"))
                .env("TESSERA_HTTP_WORKERS", "1")
                .env("TESSERA_DATABASE_MAX_CONNECTIONS", "3")
                .env("TESSERA_ADMIN_BOOTSTRAP_TOKEN", BOOTSTRAP)
                .env("TESSERA_PROXY_CLIENT_CERT_HEADER", CERT_HEADER)
                .env("TESSERA_PROXY_CLIENT_CERT_FORMAT", CERT_FORMAT)
                .env("TESSERA_PROXY_TRUSTED_PEERS", "[\"127.0.0.1/32\"]")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            fleet.instances.push(Instance {
                child,
                url: format!("http://127.0.0.1:{port}"),
                port,
                log,
            });
        }
        for i in 0..n {
            fleet.wait_ready(i).await;
        }
        fleet
    }

    async fn wait_ready(&mut self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/readyz", self.instances[i].url);
        loop {
            if let Ok(r) = self.http.get(&url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.instances[i].child.try_wait().unwrap() {
                panic!("instance {i} exited ({status}) before it was ready:\n{}", self.log(i));
            }
            assert!(Instant::now() < deadline, "instance {i} not ready:\n{}", self.log(i));
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.instances[i].log).unwrap_or_default()
    }

    pub(crate) fn issuer(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}", self.public_url)
    }

    pub(crate) fn url(&self, i: usize, path: &str) -> String {
        format!("{}{path}", self.instances[i].url)
    }

    /// An admin API call on instance `i` with the bootstrap token.
    pub(crate) async fn admin(&self, i: usize, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method, self.url(i, &format!("/admin/v1{path}")))
            .bearer_auth(BOOTSTRAP);
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.unwrap()).await
    }

    /// The admin call must succeed (2xx); answers its body.
    pub(crate) async fn admin_ok(&self, i: usize, method: Method, path: &str, body: Option<Value>) -> Value {
        let r = self.admin(i, method, path, body).await;
        assert!(r.status.is_success(), "{path}: {} {:?}", r.status, r.body);
        r.body
    }

    /// `POST` a form to `{issuer}/oauth2/{endpoint}` on instance `i`, with
    /// Basic credentials when given.
    pub(crate) async fn post(
        &self,
        i: usize,
        tenant: &str,
        endpoint: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .post(self.url(i, &format!("/t/{tenant}/oauth2/{endpoint}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(form));
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        reply(req.send().await.unwrap()).await
    }

    /// A client credentials request with Basic credentials on instance `i`.
    pub(crate) async fn token_basic(&self, i: usize, tenant: &str, id: &str, secret: &str) -> Reply {
        self.post(
            i,
            tenant,
            "token",
            Some((id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await
    }

    pub(crate) async fn get_json(&self, i: usize, path: &str) -> Reply {
        reply(self.http.get(self.url(i, path)).send().await.unwrap()).await
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for i in 0..self.instances.len() {
                eprintln!("--- instance {i} log ---\n{}", self.log(i));
            }
        }
        for instance in &mut self.instances {
            if instance.child.try_wait().ok().flatten().is_none() {
                sigterm(&instance.child);
            }
        }
        for instance in &mut self.instances {
            let deadline = Instant::now() + Duration::from_secs(10);
            while instance.child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = instance.child.kill();
                    let _ = instance.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `check` until it holds or `deadline` passes; true if it held.
pub(crate) async fn holds_before(deadline: Instant, mut check: impl AsyncFnMut() -> bool) -> bool {
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}
