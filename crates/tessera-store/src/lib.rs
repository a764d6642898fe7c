//! Tessera's persistence. One code path for SQLite and PostgreSQL through
//! `diesel::MultiConnection`; every call is blocking and must be run off the
//! async executor (`web::block` / `spawn_blocking`) by the caller.
#![forbid(unsafe_code)]

mod admin_users;
mod anchors;
mod audit;
mod checkpoint;
mod clients;
mod conn;
mod error;
mod keys;
mod models;
mod replay;
mod replay_log;
pub mod schema;
mod sealed;
mod tenants;

pub use admin_users::{AdminSession, AdminUserRow};
pub use audit::{AuditEntry, AuditFilter, AuditRecord};
pub use clients::SecretUpdate;
pub use conn::{DbConnection, DbUrl, Store};
pub use error::StoreError;
pub use models::{ClientRow, KeyRow, KeyState, SecretRow, TenantRow, TenantSnapshotRows, TrustAnchorRow};
pub use replay::{ReplayEntry, PURGE_CHUNK};
pub use sealed::{ResealCounts, SealedItem, SealedPlace};
