//! Point-in-time restore: a new, independent store equal to the source as
//! of a point. Whole sealed segments are linked, the last one is cut at the
//! batch boundary, and the views are rebuilt by opening the copy. The
//! source is only read, and may keep taking writes meanwhile.
//!
//! The copy is built in a staging directory beside the target
//! (`.NAME.restoring-PID`) and renamed onto the target only when complete,
//! so a restore that is killed or fails part-way never leaves the target
//! looking like a store: at worst the staging directory stays behind, and
//! nothing opens it as a store by accident; the next restore into the same
//! target removes it once its process is gone. A staging copy may share inodes
//! with the source (its linked sealed segments), so it must never be
//! written to; it is only opened to rebuild the views, which appends
//! nothing to the log.

use std::path::{Path, PathBuf};
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
    /// `into_dir` must not exist or be empty, and must lie outside this
    /// store's directory; anything else is refused and left untouched.
    pub fn restore(&self, as_of: AsOf, into_dir: &Path) -> Result<RestoreReport> {
        let started = Instant::now();
        check_target(into_dir)?;
        check_outside(self.dir(), into_dir)?;
        let next_offset = self.resolve_as_of(as_of)?;
        let staging = staging_dir(into_dir)?;
        let built = self.build_copy(next_offset, &staging);
        let (segments, items_live) = match built {
            Ok(done) => done,
            Err(error) => {
                // Only our own partial copy is removed; unlinking a link
                // leaves the source's inode alone.
                let _ = std::fs::remove_dir_all(&staging);
                return Err(error);
            }
        };
        move_into_place(&staging, into_dir)?;
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

impl Store {
    /// Copies the log prefix into `staging` and rebuilds the views there.
    fn build_copy(&self, next_offset: u64, staging: &Path) -> Result<(CopyReport, u64)> {
        let segments = self.log().copy_prefix(next_offset, &staging.join(LOG_DIR_NAME))?;
        let options = StoreOptions { read_only: false, faults: None, ..self.options().clone() };
        let restored = Store::open(staging, options)?;
        let items_live = restored.stats().items_live;
        restored.close()?;
        Ok((segments, items_live))
    }
}

/// A fresh staging directory beside `into_dir`, named after it and this
/// process, so an interrupted restore is easy to recognise and remove.
fn staging_dir(into_dir: &Path) -> Result<PathBuf> {
    let name = into_dir.file_name().ok_or_else(|| {
        Error::invalid(format!("restore target {} has no directory name; name a directory", into_dir.display()))
    })?;
    let parent = match into_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent)
        .map_err(|source| Error::Io { context: format!("creating {}", parent.display()), source })?;
    let prefix = format!(".{}.restoring-", name.to_string_lossy());
    remove_abandoned_staging(parent, &prefix);
    let staging = parent.join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir(&staging)
        .map_err(|source| Error::Io { context: format!("creating staging directory {}", staging.display()), source })?;
    Ok(staging)
}

/// Removes the staging directories (`PREFIX<pid>`) of restores into the
/// same target whose process is gone: a restore killed part-way leaves
/// one, and nothing else ever will. A process still running (or one this
/// system cannot check, without `/proc`) keeps its directory.
fn remove_abandoned_staging(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(prefix)).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = !Path::new("/proc/self").exists() || Path::new("/proc").join(pid.to_string()).exists();
        if !alive {
            tracing::info!(path = %entry.path().display(), pid, "removing the staging directory of an interrupted restore");
            if let Err(error) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), %error, "could not remove an abandoned staging directory");
            }
        }
    }
}

/// Renames the finished copy onto the target (an empty target directory is
/// replaced; rename(2) allows that atomically) and makes the rename durable.
fn move_into_place(staging: &Path, into_dir: &Path) -> Result<()> {
    std::fs::rename(staging, into_dir).map_err(|source| Error::Io {
        context: format!(
            "moving the finished restore {} onto {} (the copy is complete; rename it by hand)",
            staging.display(),
            into_dir.display()
        ),
        source,
    })?;
    let parent = match into_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| Error::Io { context: format!("fsync of {}", parent.display()), source })
}

/// A restore inside the store it copies would put a second log among the
/// first one's files, where compaction, repair or a cleanup would meet it.
fn check_outside(store_dir: &Path, into_dir: &Path) -> Result<()> {
    let io_error = |path: &Path| {
        let context = format!("resolving {}", path.display());
        move |source| Error::Io { context, source }
    };
    let store_dir = store_dir.canonicalize().map_err(io_error(store_dir))?;
    // The target may not exist yet: resolve its nearest existing ancestor.
    let mut existing = into_dir;
    let mut missing = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name);
                existing = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
            }
            _ => break,
        }
    }
    let mut target = existing.canonicalize().map_err(io_error(existing))?;
    target.extend(missing.iter().rev());
    if target.starts_with(&store_dir) {
        return Err(Error::invalid(format!(
            "restore target {} lies inside the store being restored ({}); choose a directory outside it",
            into_dir.display(),
            store_dir.display()
        )));
    }
    Ok(())
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
