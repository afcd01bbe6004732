//! The store facade: [`Store::open`], which opens the store layer and then
//! the views that sit above it and follow its log (the search index).
//!
//! It exists so that the store never imports a layer above it: the store
//! holds the search view only as an opaque follower, and this module, which
//! may see both, joins them. It must never hold state of its own.

use std::path::Path;

use crate::error::Result;
use crate::store::{Store, StoreOptions};

impl Store {
    /// Opens the store in `dir` (created on first write), loading the
    /// checkpoint if it is usable and replaying the log after it, and opens
    /// the search view, which catches up with the log in the background
    /// (on the disk only: tantivy keeps its own files).
    ///
    /// ```
    /// use recstore::{Store, StoreOptions};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// assert_eq!(store.log().next_offset(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        let read_only = options.read_only;
        let on_disk = options.storage.is_local_disk();
        let mut store = Store::open_views(dir, options)?;
        if on_disk {
            let search = crate::search::open_for_store(store.dir(), store.shared_log(), read_only);
            store.search = search.map(|index| index as crate::store::Follower);
        }
        Ok(store)
    }
}
