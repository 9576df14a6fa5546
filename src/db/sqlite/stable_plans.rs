//! Statements that stay prepared: SQLite's query planner stability guarantee (QPSG) on every
//! connection this process opens.
//!
//! Without it, SQLite lets a plan depend on the value bound to a parameter (a `LIMIT ?`, a
//! `LIKE ?`, a comparison that matches a partial index's condition) and then marks the
//! statement to be prepared again whenever that parameter is bound anew, that is on every
//! use. Diesel binds every `LIMIT` (`.first()`, `.limit(n)`), so its statement cache saved
//! nothing for those: the group commit's cached single-row statements (`db/seq.rs`,
//! `db/sender_checks.rs`) were parsed and planned again for every room and sender of every
//! batch, some 56,000 instructions each, a quarter of a plain send's cost (BENCHMARKS.md,
//! round 13). With the guarantee a plan depends on the SQL alone. Nothing this store runs
//! needs the values: its `LIKE`s cannot use an index anyway (no `NOCASE` column), it never
//! runs `ANALYZE`, and the one partial index (`messages_by_rev`) is matched by a literal
//! `rev > 0` in the query that wants it (`db/conversation/lookups.rs`).

use std::ffi::{c_char, c_int};
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

use super::SqliteUnavailable;

/// Sets the guarantee on `db`. SQLite calls it for each connection it opens after
/// [`install`], before the connection is handed out.
unsafe extern "C" fn stable_plans(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the connection being opened, valid for the whole call (SQLite's
    // contract for an automatic extension); this option takes an int (1: on) and an `int*`
    // for the new setting, which may be null.
    unsafe {
        ffi::sqlite3_db_config(
            db,
            ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as c_int,
            std::ptr::null_mut::<c_int>(),
        )
    }
}

/// Makes every SQLite connection opened from now on take the guarantee (registered once per
/// process; later calls answer the first one's outcome).
pub fn install() -> Result<(), SqliteUnavailable> {
    static INSTALLED: OnceLock<c_int> = OnceLock::new();
    // SAFETY: `stable_plans` has the signature SQLite calls an automatic extension with, and
    // is a plain function that lives as long as the process.
    let code =
        *INSTALLED.get_or_init(|| unsafe { ffi::sqlite3_auto_extension(Some(stable_plans)) });
    if code == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(SqliteUnavailable(format!(
            "cannot register the query planner setting for SQLite connections (error {code})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::c_int;

    use libsqlite3_sys as ffi;

    /// A connection opened after `install` has the guarantee on: SQLite reports the setting
    /// (`-1` asks without changing it).
    #[test]
    fn connections_opened_after_install_keep_their_plans() {
        super::install().expect("install");
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        // SAFETY: a private in-memory database, opened, asked and closed here.
        let (opened, asked, setting) = unsafe {
            let opened = ffi::sqlite3_open(c":memory:".as_ptr(), &mut db);
            let mut setting: c_int = 0;
            let asked = ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                -1 as c_int,
                &mut setting as *mut c_int,
            );
            ffi::sqlite3_close(db);
            (opened, asked, setting)
        };
        assert_eq!((opened, asked), (ffi::SQLITE_OK, ffi::SQLITE_OK));
        assert_eq!(setting, 1, "the query planner stability guarantee is on");
    }
}
