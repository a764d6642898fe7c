//! Integration tests: the real server on port 0 over TLS, real HTTP clients,
//! each test on its own database. Tests taking a `Backend` run on SQLite and,
//! when `TESSERA_TEST_DATABASE_URL` is set, on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Generates `sqlite::NAME` and `postgres::NAME` tests from `async fn NAME(Backend)`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(tessera_testkit::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if !tessera_testkit::Backend::Postgres.available() {
                        eprintln!("skipped: TESSERA_TEST_DATABASE_URL is not set (scripts/test sets it)");
                        return;
                    }
                    super::$name(tessera_testkit::Backend::Postgres).await
                }
            )*
        }
    };
}

mod admin;
mod assertions;
mod cli;
mod discovery;
mod fleet;
mod hostile_certs;
mod hostile_credentials;
mod hostile_http;
mod hostile_paths;
mod interop;
mod introspection;
mod isolation;
mod jwks;
mod keys;
mod lifecycle;
mod logs;
mod master_key;
mod mtls;
mod operations;
mod outage;
mod process;
mod ratelimit;
mod tls_resumption;
mod tls_suites;
mod token;
mod ui;
