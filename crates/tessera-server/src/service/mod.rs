//! The admin operations, shared by the admin API, the admin UI and the CLI,
//! so that no rule is implemented twice. Every call is blocking
//! (it talks to the store): HTTP handlers run it through `web::block`.

mod admin_users;
mod anchors;
mod clients;
mod keys;
mod master_key;
mod tenants;
mod views;

pub use admin_users::{session_id_hash, LoginOutcome, OneTimeSecret, SessionPolicy, SignedIn};
pub(crate) use clients::secret_aad;
pub use clients::{ClientWithSecret, RotateSecret};
pub use views::{client_view, key_view, tenant_view};

use tessera_clientauth::SecretHasher;
use tessera_core::metadata::MetadataError;
use tessera_core::{ErrorCode, OAuthError};
use tessera_store::{Store, StoreError};
use tessera_token::{MasterKey, TokenError};

#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub master: MasterKey,
    pub hasher: SecretHasher,
    public_base: String,
    /// `[mtls] public_url`, when the mTLS listener is configured.
    mtls_base: Option<String>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("store", &self.store).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Client metadata refused (RFC 7591 `invalid_client_metadata`).
    #[error("{0}")]
    InvalidMetadata(MetadataError),
    /// Any other bad input, naming the field.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("internal: {0}")]
    Internal(&'static str),
    /// The configured master key does not open the database's sealed keys.
    #[error("{0}")]
    WrongMasterKey(String),
}

impl ServiceError {
    /// The wire form. Internal failures say nothing of their cause.
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            ServiceError::NotFound(what) => OAuthError::not_found(format!("{what} not found")),
            ServiceError::Conflict(m) => OAuthError::new(ErrorCode::Conflict, m.clone()),
            ServiceError::InvalidMetadata(e) => OAuthError::new(ErrorCode::InvalidClientMetadata, e.to_string()),
            ServiceError::Invalid(m) => OAuthError::invalid_request(m.clone()),
            ServiceError::Store(StoreError::Conflict) => OAuthError::new(ErrorCode::Conflict, "already exists"),
            ServiceError::Store(StoreError::NotFound) => OAuthError::not_found("not found"),
            ServiceError::Store(e) if e.is_unavailable() => OAuthError::temporarily_unavailable(),
            ServiceError::Store(_)
            | ServiceError::Token(_)
            | ServiceError::Internal(_)
            | ServiceError::WrongMasterKey(_) => OAuthError::server_error(),
        }
    }
}

/// An id that cannot exist is simply not found: the store never sees it
/// (PostgreSQL, for one, refuses NUL bytes with an error).
pub(crate) fn tenant_must_parse(id: &str) -> Result<(), ServiceError> {
    tessera_core::TenantId::parse(id)
        .map(|_| ())
        .map_err(|_| ServiceError::NotFound("tenant"))
}

pub(crate) fn client_must_parse(id: &str) -> Result<(), ServiceError> {
    tessera_core::ClientId::parse(id)
        .map(|_| ())
        .map_err(|_| ServiceError::NotFound("client"))
}

impl Services {
    /// The services over `store`, after checking that `master` is this
    /// database's master key (it must open the stored client-secret hashing
    /// key, which is created on a database's first start).
    pub fn open(store: Store, master: MasterKey, public_base: &str) -> Result<Self, ServiceError> {
        let hasher = master_key::load_secret_hasher(&store, &master)?;
        Ok(Self {
            store,
            master,
            hasher,
            public_base: public_base.trim_end_matches('/').to_owned(),
            mtls_base: None,
        })
    }

    pub fn with_mtls_base(mut self, base: Option<&str>) -> Self {
        self.mtls_base = base.map(|b| b.trim_end_matches('/').to_owned());
        self
    }

    pub fn mtls_base(&self) -> Option<&str> {
        self.mtls_base.as_deref()
    }

    pub fn public_base(&self) -> &str {
        &self.public_base
    }

    /// `{public_url}/t/{tenant}`.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/t/{tenant}", self.public_base)
    }
}
