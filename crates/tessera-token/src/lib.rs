//! Tessera's token issuance: per-tenant signing keys (generated here, sealed
//! with AES-256-GCM under the master key before they reach the store), their
//! life cycle, JWKS documents, and RFC 9068 access tokens: minting and the
//! verification the admin API (and later the gateway) relies on.
//!
//! Signers and verifiers are built once per key load and cached by the
//! caller in [`TenantKeys`]; nothing here parses a key per request.
#![forbid(unsafe_code)]

pub mod access_token;
pub mod error;
pub mod keys;
pub mod keyset;
pub mod master_key;
pub mod random;
mod ring_sign;
pub mod thumbprint;

pub use access_token::{AccessTokenClaims, VerifiedToken};
pub use error::TokenError;
pub use keys::{generate_signing_key, sealing_aad, NewSigningKey};
pub use keyset::{StoredKey, TenantKeys};
pub use master_key::MasterKey;
