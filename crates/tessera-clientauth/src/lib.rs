//! Client authentication for Tessera's OAuth endpoints. This crate knows no
//! database and no HTTP framework: callers hand it the request's credentials
//! and the client's stored verifiers, and it answers yes or an
//! [`OAuthError`](tessera_core::OAuthError) for the wire.
//!
//! Implemented: `client_secret_basic`, `client_secret_post` (RFC 6749 §2.3.1).
//! JWT assertions (RFC 7523) and mutual TLS (RFC 8705) follow.
#![forbid(unsafe_code)]

pub mod credentials;
pub mod secret;

pub use credentials::{PresentedCredentials, SecretCredentials};
pub use secret::{generate_secret, SecretHasher, StoredSecret};
