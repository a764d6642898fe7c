//! Client authentication for Tessera's OAuth endpoints. This crate knows no
//! database and no HTTP framework: callers hand it the request's credentials
//! and the client's stored verifiers, and it answers yes or an
//! [`OAuthError`](tessera_core::OAuthError) for the wire.
//!
//! Implemented: `client_secret_basic`, `client_secret_post` (RFC 6749
//! §2.3.1), `private_key_jwt` and `client_secret_jwt` (RFC 7523), with
//! `jwks_uri` fetching. Mutual TLS (RFC 8705) follows.
#![forbid(unsafe_code)]

pub mod assertion;
pub mod client_keys;
pub mod credentials;
pub mod dn;
pub mod forwarded_cert;
pub mod jwks_fetch;
pub mod jws_verify;
pub mod mtls;
pub mod rsa_verify;
pub mod secret;

pub use assertion::{AssertionKey, AssertionPolicy, UnverifiedAssertion, VerifiedAssertion};
pub use client_keys::ClientKeySet;
pub use credentials::{AssertionCredentials, PresentedCredentials, SecretCredentials};
pub use jwks_fetch::{FetchObserver, FetchOutcome, JwksFetcher, OutboundOptions};
pub use secret::{generate_secret, SecretHasher, StoredSecret};
