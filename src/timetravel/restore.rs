//! Point-in-time restore: a new, independent store equal to the source as
//! of a point. Whole sealed segments are linked, the last one is cut at the
//! batch boundary, and the views are rebuilt by opening the copy. The
//! source is only read, and may keep taking writes meanwhile.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::AsOf;
use crate::error::{Error, Result};
use crate::log::CopyReport;
use crate::store::LOG_DIR_NAME;
use crate::{Store, StoreOptions};

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreReport {
    /// The point restored to.
    pub as_of: String,
    /// Records below this offset were restored.
    pub next_offset: u64,
    /// Segment files linked and copied, and their bytes.
    pub segments: CopyReport,
    /// Items live in the restored store.
    pub items_live: u64,
    /// Wall time, milliseconds.
    pub elapsed_ms: u64,
}

impl Store {
    /// Builds a new store in `into_dir` equal to this one as of `as_of`.
    /// `into_dir` must not exist or be empty; anything else is refused and
    /// left untouched.
    pub fn restore(&self, as_of: AsOf, into_dir: &Path) -> Result<RestoreReport> {
        let started = Instant::now();
        check_target(into_dir)?;
        let next_offset = self.resolve_as_of(as_of)?;
        let segments = self.log().copy_prefix(next_offset, &into_dir.join(LOG_DIR_NAME))?;
        let options = StoreOptions { read_only: false, faults: None, ..self.options().clone() };
        let restored = Store::open(into_dir, options)?;
        let items_live = restored.stats().items_live;
        restored.close()?;
        tracing::info!(%as_of, next_offset, into = %into_dir.display(), "restored");
        Ok(RestoreReport {
            as_of: as_of.to_string(),
            next_offset,
            segments,
            items_live,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }
}

fn check_target(into_dir: &Path) -> Result<()> {
    let empty = match std::fs::read_dir(into_dir) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
        Err(source) => return Err(Error::Io { context: format!("reading {}", into_dir.display()), source }),
        Ok(mut entries) => entries.next().is_none(),
    };
    if empty {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "restore target {} is not empty; refusing to touch it (choose a new or empty directory)",
        into_dir.display()
    )))
}
