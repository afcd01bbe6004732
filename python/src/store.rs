//! `_recstore.Store`: the thin native class the Python `recstore.Store`
//! wraps.
//!
//! Owns the open `recstore::Store` and the pid of the process that opened
//! it. Every call converts its arguments while holding the GIL, releases the
//! GIL (`Python::detach`) for the library call, then converts the result.
//! It never decides anything the library decides (ids, versions, limits);
//! ergonomics (`ItemRef` objects, iterators, time forms) live in Python.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use recstore::compaction::Policy;
use recstore::store::{ItemData, PreservedItem};
use recstore::timetravel::{AsOf, StoreAt};
use recstore::{Data, Direction, ErrorKind, Metadata, NewItem, Query, Store, StoreOptions, SyncMode};
use serde_json::Value;

use crate::convert::{to_json, to_python};
use crate::errors::{OrRaise, raise};

/// How often `sync="interval"` fdatasyncs.
const SYNC_INTERVAL_MS: u64 = 100;

/// How often `close()` checks whether calls in flight have finished.
const CLOSE_POLL_MS: u64 = 1;

/// An open store, shareable between threads (the library's `Store` is).
#[pyclass(name = "Store", module = "recstore._recstore", frozen)]
pub struct NativeStore {
    store: RwLock<Option<Arc<Store>>>,
    opener_pid: u32,
    path: PathBuf,
}

impl NativeStore {
    /// The open store, or the error a closed store or a forked child gets.
    pub fn get(&self) -> PyResult<Arc<Store>> {
        let pid = std::process::id();
        if pid != self.opener_pid {
            return Err(raise(
                ErrorKind::Unavailable,
                format!(
                    "this Store for {} was opened by process {} and cannot be used in process {pid} (a forked \
                     child shares its file handles and lock); open the store again in this process, e.g. \
                     recstore.Store(path, read_only=True) in each DataLoader worker",
                    self.path.display(),
                    self.opener_pid
                ),
            ));
        }
        let guard = self.store.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard
            .clone()
            .ok_or_else(|| raise(ErrorKind::Unavailable, format!("the Store for {} is closed", self.path.display())))
    }
}

/// Parses an optional `@N` / RFC 3339 string (the Python layer turns ints
/// and datetimes into these).
pub fn parse_as_of(as_of: Option<&str>) -> PyResult<Option<AsOf>> {
    as_of.map(str::parse).transpose().or_raise()
}

/// Runs `read` on the store as of `as_of` (now when `None`).
pub fn read_at<T>(
    store: &Store,
    as_of: Option<AsOf>,
    read: impl FnOnce(&StoreAt<'_>) -> recstore::Result<T>,
) -> PyResult<T> {
    store.at_or_latest(as_of).and_then(|view| read(&view)).or_raise()
}

/// The item's data as Python: JSON as objects, bytes as `bytes`.
pub fn data_to_python<'py>(py: Python<'py>, data: &ItemData) -> PyResult<Bound<'py, PyAny>> {
    if data.is_json {
        let value = data.json().or_raise()?;
        to_python(py, &value)
    } else {
        Ok(PyBytes::new(py, &data.bytes).into_any())
    }
}

/// A serializable library value as Python objects.
pub fn serialized<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(value).map_err(|e| raise(ErrorKind::Internal, e.to_string()))?;
    to_python(py, &value)
}

/// Metadata as the CLI prints it (`type`, `source_id`, `tags`, `parents`
/// always present).
pub fn meta_to_python<'py>(py: Python<'py>, meta: &recstore::ItemMeta) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(meta).map_err(|e| raise(ErrorKind::Internal, e.to_string()))?;
    to_python(py, &value)
}

/// One item to store from Python `data` and a metadata dict. `bytes` data
/// is a byte item (content type from `metadata["content_type"]`).
pub fn new_item(data: &Bound<'_, PyAny>, metadata: Option<&Bound<'_, PyAny>>, path: &str) -> PyResult<NewItem> {
    let mut metadata = match metadata {
        Some(metadata) if !metadata.is_none() => to_json(metadata, &format!("{path}metadata"))?,
        _ => Value::Object(serde_json::Map::new()),
    };
    let content_type = metadata.as_object_mut().and_then(|m| m.remove("content_type"));
    let data = if let Ok(bytes) = data.cast::<PyBytes>() {
        let content_type = match content_type {
            Some(Value::String(text)) => text,
            _ => "application/octet-stream".to_string(),
        };
        Data::Bytes { bytes: bytes.as_bytes().to_vec(), content_type }
    } else {
        Data::Json(to_json(data, &format!("{path}data"))?)
    };
    let metadata: Metadata = serde_json::from_value(metadata)
        .map_err(|e| raise(ErrorKind::InvalidInput, format!("{path}metadata: {e}; nothing was written")))?;
    Ok(NewItem { data, metadata })
}

/// Items in the old store's dataset shape: `{"data": ..., "metadata": {...}}`.
pub fn new_items(items: &Bound<'_, PyAny>) -> PyResult<Vec<NewItem>> {
    let mut out = Vec::new();
    for (i, item) in items.try_iter()?.enumerate() {
        let item = item?;
        let item = item.cast::<PyDict>().map_err(|_| {
            raise(
                ErrorKind::InvalidInput,
                format!("items[{i}] is not a dict of data and metadata; nothing was written"),
            )
        })?;
        let data = item.get_item("data")?.ok_or_else(|| {
            raise(ErrorKind::InvalidInput, format!("items[{i}] has no \"data\"; nothing was written"))
        })?;
        let metadata = item.get_item("metadata")?;
        out.push(new_item(&data, metadata.as_ref(), &format!("items[{i}]."))?);
    }
    Ok(out)
}

/// A query dict whose `since`/`until` may be `@N` (the Python layer turns
/// other forms into strings).
pub fn parse_query(store: &Store, query: Option<&Bound<'_, PyAny>>, limit: Option<usize>) -> PyResult<Query> {
    let mut value = match query {
        Some(query) if !query.is_none() => to_json(query, "query")?,
        _ => Value::Object(serde_json::Map::new()),
    };
    let mut times = [None, None];
    if let Some(object) = value.as_object_mut() {
        for (slot, key) in times.iter_mut().zip(["since", "until"]) {
            match object.remove(key) {
                Some(Value::String(text)) => {
                    let when: AsOf = text.parse().or_raise()?;
                    *slot = Some(store.timestamp_of(when).or_raise()?);
                }
                Some(Value::Null) | None => {}
                Some(other) => {
                    return Err(raise(
                        ErrorKind::InvalidInput,
                        format!("query {key} is {other}: give a time or an offset"),
                    ));
                }
            }
        }
    }
    let mut query = Query::from_json(&value).or_raise()?;
    [query.since_us, query.until_us] = times;
    if limit.is_some() {
        query.limit = limit;
    }
    Ok(query)
}

#[pymethods]
impl NativeStore {
    #[new]
    #[pyo3(signature = (path, sync, read_only))]
    fn new(py: Python<'_>, path: PathBuf, sync: &str, read_only: bool) -> PyResult<Self> {
        let sync = match sync {
            "always" => SyncMode::Always,
            "interval" => SyncMode::Interval { interval_ms: SYNC_INTERVAL_MS },
            "never" => SyncMode::Never,
            other => {
                return Err(raise(
                    ErrorKind::InvalidInput,
                    format!("sync={other:?}: give \"always\", \"interval\" or \"never\""),
                ));
            }
        };
        let options = StoreOptions::default().sync(sync).read_only(read_only);
        let opened = py.detach(|| Store::open(&path, options)).or_raise()?;
        Ok(Self { store: RwLock::new(Some(Arc::new(opened))), opener_pid: std::process::id(), path })
    }

    /// Closes the store; later calls raise `Unavailable`. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.store.write().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let Some(mut store) = taken else { return Ok(()) };
        // Calls still running in other threads hold clones: wait for them
        // (GIL released, so they can finish), so that when close() returns
        // the store is flushed and unlocked. New calls already see it closed,
        // and a waiting subscriber wakes within its wait slice.
        py.detach(|| {
            loop {
                match Arc::try_unwrap(store) {
                    Ok(store) => return store.close(),
                    Err(shared) => {
                        store = shared;
                        std::thread::sleep(std::time::Duration::from_millis(CLOSE_POLL_MS));
                    }
                }
            }
        })
        .or_raise()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.store.read().unwrap_or_else(std::sync::PoisonError::into_inner).is_none()
    }

    #[pyo3(signature = (data, metadata=None))]
    fn put<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        metadata: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let item = new_item(data, metadata, "")?;
        let stored = py.detach(|| store.put(item.data, item.metadata)).or_raise()?;
        serialized(py, &stored)
    }

    fn put_many<'py>(&self, py: Python<'py>, items: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let items = new_items(items)?;
        let stored = py.detach(|| store.put_batch(items)).or_raise()?;
        serialized(py, &stored)
    }

    #[pyo3(signature = (name, items, info=None))]
    fn store_dataset<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        items: &Bound<'py, PyAny>,
        info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let items = new_items(items)?;
        let info = match info {
            Some(info) if !info.is_none() => to_json(info, "info")?,
            _ => Value::Object(serde_json::Map::new()),
        };
        let stored = py.detach(|| store.put_dataset(name, items, info)).or_raise()?;
        serialized(py, &stored)
    }

    /// Appends `(data, metadata, version, timestamp)` tuples keeping their
    /// versions and RFC 3339 times (`Store::put_preserved`): migration.
    fn put_preserved<'py>(&self, py: Python<'py>, items: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let mut preserved = Vec::with_capacity(items.len());
        for (i, entry) in items.iter().enumerate() {
            let (data, metadata, version, timestamp): (Bound<'py, PyAny>, Bound<'py, PyAny>, u32, String) =
                entry.extract()?;
            let item = new_item(&data, Some(&metadata), &format!("items[{i}]."))?;
            let timestamp_us = recstore::store::parse_time(&timestamp).or_raise()?;
            preserved.push(PreservedItem { item, version, timestamp_us });
        }
        let stored = py.detach(|| store.put_preserved(preserved)).or_raise()?;
        serialized(py, &stored)
    }

    fn delete(&self, py: Python<'_>, id: &str) -> PyResult<u64> {
        let store = self.get()?;
        py.detach(|| store.delete(id)).or_raise()
    }

    #[pyo3(signature = (id, version=None, as_of=None))]
    fn retrieve<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        version: Option<u32>,
        as_of: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let data = py.detach(|| {
            read_at(&store, as_of, |view| match version {
                Some(version) => view.get_version(id, version),
                None => view.get(id),
            })
        })?;
        data_to_python(py, &data)
    }

    #[pyo3(signature = (id, version=None, as_of=None))]
    fn retrieve_metadata<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        version: Option<u32>,
        as_of: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let meta = py.detach(|| read_at(&store, as_of, |view| view.metadata(id, version)))?;
        meta_to_python(py, &meta)
    }

    /// `(id, version)` of the items matching `query`, in query order.
    #[pyo3(signature = (query=None, limit=None, as_of=None))]
    fn query_hits(
        &self,
        py: Python<'_>,
        query: Option<&Bound<'_, PyAny>>,
        limit: Option<usize>,
        as_of: Option<&str>,
    ) -> PyResult<Vec<(String, u32)>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let query = parse_query(&store, query, limit)?;
        let hits = py.detach(|| read_at(&store, as_of, |view| view.query_hits(&query)))?;
        Ok(hits.into_iter().map(|hit| (hit.id, hit.version)).collect())
    }

    /// `(id, data)` for each `(id, version)` pair, in one GIL release.
    #[pyo3(signature = (pairs, as_of=None))]
    fn read_many<'py>(
        &self,
        py: Python<'py>,
        pairs: Vec<(String, u32)>,
        as_of: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let read = py.detach(|| {
            read_at(&store, as_of, |view| {
                pairs.iter().map(|(id, version)| view.get_version(id, *version)).collect::<recstore::Result<Vec<_>>>()
            })
        })?;
        let list = PyList::empty(py);
        for data in &read {
            list.append((data.id.as_str(), data_to_python(py, data)?))?;
        }
        Ok(list)
    }

    #[pyo3(signature = (name, version=None, as_of=None))]
    fn retrieve_dataset<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        version: Option<u32>,
        as_of: Option<&str>,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyAny>)> {
        crate::reads::retrieve_dataset(py, &*self.get()?, name, version, parse_as_of(as_of)?)
    }

    #[pyo3(signature = (id, as_of=None))]
    fn history<'py>(&self, py: Python<'py>, id: &str, as_of: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let entries = py.detach(|| read_at(&store, as_of, |view| view.history(id)))?;
        serialized(py, &entries)
    }

    #[pyo3(signature = (id, direction="up", depth=None, as_of=None))]
    fn lineage<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        direction: &str,
        depth: Option<u32>,
        as_of: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let direction = match direction {
            "up" => Direction::Up,
            "down" => Direction::Down,
            other => {
                return Err(raise(ErrorKind::InvalidInput, format!("direction={other:?}: give \"up\" or \"down\"")));
            }
        };
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let entries =
            py.detach(|| read_at(&store, as_of, |view| view.lineage(id, direction, depth.unwrap_or(u32::MAX))))?;
        serialized(py, &entries)
    }

    #[pyo3(signature = (q, limit=20, as_of=None))]
    fn search<'py>(&self, py: Python<'py>, q: &str, limit: usize, as_of: Option<&str>) -> PyResult<Bound<'py, PyList>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let found = py.detach(|| read_at(&store, as_of, |view| view.search(q, limit)))?;
        let list = PyList::empty(py);
        for meta in &found {
            list.append(meta_to_python(py, meta)?)?;
        }
        Ok(list)
    }

    #[pyo3(signature = (as_of=None))]
    fn stats<'py>(&self, py: Python<'py>, as_of: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let stats = py.detach(|| read_at(&store, as_of, |view| Ok(view.stats())))?;
        serialized(py, &stats)
    }

    #[pyo3(signature = (retention_days, max_versions, expire, purge, dry_run))]
    fn cleanup<'py>(
        &self,
        py: Python<'py>,
        retention_days: Option<u32>,
        max_versions: Option<u32>,
        expire: bool,
        purge: bool,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let mut policy = Policy::keep_everything().max_versions(max_versions).expire(expire).purge(purge);
        if let Some(days) = retention_days {
            policy = policy.retention_days(days);
        }
        policy.validate().map_err(|message| raise(ErrorKind::InvalidInput, message))?;
        if dry_run {
            let preview = py.detach(|| store.compaction_preview(policy)).or_raise()?;
            return serialized(py, &preview);
        }
        let report = py.detach(|| store.compact(policy)).or_raise()?;
        serialized(py, &report)
    }

    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let report = py.detach(|| recstore::cli::verify_json(store.dir())).or_raise()?;
        to_python(py, &report)
    }

    fn restore<'py>(&self, py: Python<'py>, as_of: &str, into: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let as_of: AsOf = as_of.parse().or_raise()?;
        let report = py.detach(|| store.restore(as_of, &into)).or_raise()?;
        serialized(py, &report)
    }

    /// The export columns as a `pyarrow.RecordBatchReader`.
    #[pyo3(signature = (query=None, as_of=None, all_versions=false))]
    fn export_arrow<'py>(
        &self,
        py: Python<'py>,
        query: Option<&Bound<'py, PyAny>>,
        as_of: Option<&str>,
        all_versions: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (store, as_of) = (self.get()?, parse_as_of(as_of)?);
        let query = parse_query(&store, query, None)?;
        crate::reads::export_arrow(py, &store, &query, as_of, all_versions)
    }

    /// Up to `count_max` events from `from_offset` on.
    fn events<'py>(&self, py: Python<'py>, from_offset: u64, count_max: usize) -> PyResult<Bound<'py, PyAny>> {
        let store = self.get()?;
        let events = py.detach(|| store.events(from_offset, count_max)).or_raise()?;
        serialized(py, &events)
    }

    /// Waits (GIL released) until the log's next offset passes
    /// `next_offset` or `timeout_ms` passes; returns the log's next offset.
    fn wait(&self, py: Python<'_>, next_offset: u64, timeout_ms: u64) -> PyResult<u64> {
        let store = self.get()?;
        py.detach(|| crate::reads::wait_past(&store, next_offset, timeout_ms))
    }

    /// The offset a consumer group last committed.
    fn consumer_offset(&self, py: Python<'_>, group: &str) -> PyResult<Option<u64>> {
        let store = self.get()?;
        Ok(py.detach(|| store.consumer_offset(group)))
    }

    fn commit(&self, py: Python<'_>, group: &str, next_offset: u64) -> PyResult<u64> {
        let store = self.get()?;
        py.detach(|| store.commit_consumer(group, next_offset)).or_raise()
    }

    /// Deletes a consumer group; the offset of the record that says so.
    fn delete_consumer(&self, py: Python<'_>, group: &str) -> PyResult<u64> {
        let store = self.get()?;
        py.detach(|| store.delete_consumer(group)).or_raise()
    }
}

impl Drop for NativeStore {
    /// In a forked child the store's files and lock belong to the parent:
    /// dropping it here would flush and unlock them under the parent's feet,
    /// so the child forgets it instead.
    fn drop(&mut self) {
        if std::process::id() != self.opener_pid {
            let store = self.store.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            std::mem::forget(store);
        }
    }
}
