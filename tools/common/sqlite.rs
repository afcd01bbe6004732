//! The SQLite baseline's schema and connection, shared by the benchmarks
//! that compare against SQLite, so that they all compare against the same
//! tables and indices at the same durability.

use std::path::Path;

use rusqlite::Connection;

/// `items` holds every version; tags and parents carry the version, because
/// a query must match the latest version's tags, not those of an older one.
/// `parents` is indexed on `parent` since the lineage walk down needs it, and
/// recstore keeps the same map in memory.
pub const SCHEMA: &str = "
    CREATE TABLE items (
        id TEXT NOT NULL, version INTEGER NOT NULL, ts INTEGER NOT NULL,
        type TEXT, source TEXT, data BLOB NOT NULL, meta TEXT NOT NULL);
    CREATE UNIQUE INDEX items_id ON items (id, version);
    CREATE INDEX items_type ON items (type);
    CREATE INDEX items_source ON items (source);
    CREATE INDEX items_ts ON items (ts);
    CREATE TABLE item_tags (id TEXT NOT NULL, version INTEGER NOT NULL, tag TEXT NOT NULL);
    CREATE INDEX item_tags_tag ON item_tags (tag);
    CREATE TABLE parents (id TEXT NOT NULL, version INTEGER NOT NULL, parent TEXT NOT NULL);
    CREATE INDEX parents_parent ON parents (parent);";

/// A new database at `path` with [`SCHEMA`], in WAL mode with
/// `synchronous=FULL`: the WAL is fsynced at every commit, like
/// `SyncMode::Always` and the server's default.
pub fn open(path: &Path) -> Result<Connection, Box<dyn std::error::Error + Send + Sync>> {
    let conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("SQLite refused WAL mode (journal_mode={mode})").into());
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Microseconds since the Unix epoch, for the `ts` column.
pub fn now_us() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}
