//! Why a group-commit transaction failed: refused by the database (the batch is split to
//! find the post it refuses) or unreachable (the whole batch is off).

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;

use crate::db::error::StoreError;
use crate::db::sqlite::SqliteUnavailable;

/// Why a transaction failed.
pub(super) enum Failure {
    /// The database refused a statement: something in the batch it cannot take (or a full
    /// disk, which splitting cannot help but does not make worse).
    Refused(StoreError),
    /// No connection, a broken one, or a time-out: the whole batch is off.
    Unreachable(StoreError),
}

impl Failure {
    pub(super) fn into_error(self) -> StoreError {
        match self {
            Failure::Refused(err) | Failure::Unreachable(err) => err,
        }
    }
}

impl From<DieselError> for Failure {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => Failure::Unreachable(err.into()),
            DieselError::DatabaseError(..) => Failure::Refused(err.into()),
            _ => Failure::Unreachable(err.into()),
        }
    }
}

impl From<PoolError> for Failure {
    fn from(err: PoolError) -> Self {
        Failure::Unreachable(err.into())
    }
}

impl From<SqliteUnavailable> for Failure {
    fn from(err: SqliteUnavailable) -> Self {
        Failure::Unreachable(err.into())
    }
}
