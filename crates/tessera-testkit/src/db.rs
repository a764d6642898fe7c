//! Fresh databases for tests.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use, when configured.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("TESSERA_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

impl Backend {
    pub fn available(self) -> bool {
        match self {
            Backend::Sqlite => true,
            Backend::Postgres => postgres_base_url().is_some(),
        }
    }
}

/// A database that exists for one test (or one group of server instances),
/// removed when dropped; with its own master key.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub master_key: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Schema { base: String, schema: String },
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).unwrap();
    tessera_core::hex::lower(&b)
}

impl TestDb {
    pub fn new(backend: Backend) -> Option<Self> {
        let master_key = tessera_token_master_key();
        crate::logs::register_secret(&master_key);
        match backend {
            Backend::Sqlite => {
                let dir = crate::temp_dir("db");
                let url = format!("sqlite://{}", dir.join("tessera.db").display());
                Some(Self {
                    backend,
                    url,
                    master_key,
                    cleanup: Cleanup::Dir(dir),
                })
            }
            Backend::Postgres => {
                let base = postgres_base_url()?;
                let schema = format!("t_{}", random_hex(8));
                let mut conn = PgConnection::establish(&base).unwrap_or_else(|e| {
                    panic!("TESSERA_TEST_DATABASE_URL is set but PostgreSQL is not reachable: {e}")
                });
                conn.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                Some(Self {
                    backend,
                    url,
                    master_key,
                    cleanup: Cleanup::Schema { base, schema },
                })
            }
        }
    }
}

impl TestDb {
    /// Runs SQL on this database directly (to set up states the API cannot
    /// reach, e.g. a migration not yet applied).
    pub fn execute(&self, sql: &str) {
        match self.url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut conn = diesel::SqliteConnection::establish(path).unwrap();
                // A server just stopped may still be finishing a write.
                conn.batch_execute("PRAGMA busy_timeout = 10000;").unwrap();
                conn.batch_execute(sql).unwrap()
            }
            None => PgConnection::establish(&self.url).unwrap().batch_execute(sql).unwrap(),
        }
    }
}

fn tessera_token_master_key() -> String {
    use base64::Engine;
    let mut b = [0u8; 32];
    openssl::rand::rand_bytes(&mut b).unwrap();
    base64::engine::general_purpose::STANDARD.encode(b)
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { base, schema } => {
                if let Ok(mut conn) = PgConnection::establish(base) {
                    let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
                }
            }
        }
    }
}
