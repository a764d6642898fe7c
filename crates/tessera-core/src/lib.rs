//! Tessera's domain types. Nothing here performs I/O: every type is built
//! through a check ("parse, don't validate") so the rest of the code base can
//! rely on the invariant the type names.
#![forbid(unsafe_code)]

pub mod alg;
mod credential_fields;
pub mod error;
pub mod form;
pub mod hex;
pub mod ids;
pub mod metadata;
pub mod ratelimit;
pub mod scope;
pub mod tenant;
pub mod time;

pub use alg::SigningAlg;
pub use error::{ErrorCode, OAuthError};
pub use ids::{ClientId, TenantId};
pub use metadata::{AuthMethod, ClientMetadata, MetadataError};
pub use scope::ScopeSet;
pub use tenant::TenantSettings;
