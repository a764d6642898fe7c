use thiserror::Error;

#[derive(Debug, Error)]
pub enum TokenError {
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("sealed key cannot be opened (wrong master key, or the record was altered)")]
    Unseal,
    #[error("key material: {0}")]
    Key(String),
    #[error("the tenant has no active signing key")]
    NoActiveKey,
    #[error("signing failed: {0}")]
    Sign(String),
    /// Why a presented token was refused; safe to show to its bearer.
    #[error("{0}")]
    Invalid(&'static str),
}

impl From<josekit::JoseError> for TokenError {
    fn from(e: josekit::JoseError) -> Self {
        TokenError::Key(e.to_string())
    }
}
