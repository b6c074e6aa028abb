//! PostgreSQL's errors as the store's: a database that is gone or restarting is
//! [`StoreError::Unavailable`], so callers may retry.

use crate::error::StoreError;

impl From<sqlx_core::Error> for StoreError {
    fn from(err: sqlx_core::Error) -> Self {
        use sqlx_core::Error as E;
        match &err {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                StoreError::Unavailable(err.to_string())
            }
            E::Database(db) => {
                let code = db.code().unwrap_or_default();
                // Class 08: connection exceptions; 57P01-57P03: the server is shutting
                // down or starting up.
                if code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03") {
                    StoreError::Unavailable(err.to_string())
                } else {
                    StoreError::Database(err.to_string())
                }
            }
            _ => StoreError::Database(err.to_string()),
        }
    }
}

impl From<sqlx_core::migrate::MigrateError> for StoreError {
    fn from(err: sqlx_core::migrate::MigrateError) -> Self {
        match err {
            sqlx_core::migrate::MigrateError::Execute(inner) => inner.into(),
            other => StoreError::Database(format!("migration failed: {other}")),
        }
    }
}
