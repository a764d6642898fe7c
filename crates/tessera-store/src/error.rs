use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    Conflict,
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database error: {0}")]
    Db(diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// A caller's check failed inside a transaction, which was rolled back.
    #[error("{0}")]
    Aborted(String),
}

impl StoreError {
    /// The database cannot be reached right now (down, restarting, cut off,
    /// pool timed out waiting for a connection): a retry may succeed, as
    /// opposed to a query or data error.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            StoreError::Connect(_) | StoreError::Pool(_) => true,
            StoreError::Db(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )) => true,
            // PostgreSQL ends sessions with SQLSTATE 57P01 (admin_shutdown)
            // and 57P03 (cannot_connect_now) while stopping and starting,
            // which diesel reports only by their message.
            StoreError::Db(Error::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                let m = info.message();
                m.contains("terminating connection")
                    || m.contains("server closed the connection")
                    || m.contains("the database system is")
                    || m.contains("no connection to the server")
            }
            _ => false,
        }
    }
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => StoreError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Conflict,
            other => StoreError::Db(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    #[test]
    fn only_an_unreachable_database_is_unavailable() {
        assert!(StoreError::Connect("refused".into()).is_unavailable());
        assert!(StoreError::Db(Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("server closed the connection unexpectedly".to_owned())
        ))
        .is_unavailable());
        assert!(StoreError::Db(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("terminating connection due to administrator command".to_owned())
        ))
        .is_unavailable());
        // Data and query errors are not the database being away.
        assert!(!StoreError::Conflict.is_unavailable());
        assert!(!StoreError::NotFound.is_unavailable());
        assert!(!StoreError::Corrupt("x".into()).is_unavailable());
        assert!(!StoreError::Db(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("syntax error at or near".to_owned())
        ))
        .is_unavailable());
        assert!(!StoreError::Db(Error::RollbackTransaction).is_unavailable());
    }
}
