//! Resource servers' side of Tessera: validating access tokens the way
//! INTERFACE.md §8 requires, so that an API trusts Tessera's tokens without
//! writing security code.
//!
//! - [`Validator`]: finds each issuer's JWKS through its metadata, caches the
//!   keys (re-fetching, rate-limited, on an unknown `kid`), and checks
//!   signature, `typ` at+jwt, `iss`, `aud`, `exp`/`nbf` with leeway, and the
//!   certificate binding `cnf.x5t#S256` against the certificate presented on
//!   the connection.
//! - [`middleware`]: an actix-web middleware over it, for services that
//!   terminate TLS themselves.
//!
//! - [`proxy`]: the `tessera-gateway` sidecar, a TLS reverse proxy built on both.
#![forbid(unsafe_code)]

pub mod config;
pub mod middleware;
pub mod proxy;
mod validator;

pub use validator::{GatewayPolicy, IntrospectionSettings, Rejection, Validator, VerifiedAccess};
