//! The native calls too long to sit inline in the `#[pymethods]` block:
//! datasets with their items, and waiting for new log records.
//!
//! Owns no state; like `store.rs`, it converts and releases the GIL, and
//! never writes.

use std::time::Duration;

use arrow_array::{RecordBatchIterator, RecordBatchReader};
use arrow_pyarrow::IntoPyArrow;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use recstore::timetravel::AsOf;
use recstore::{ErrorKind, Store};

use crate::convert::to_python;
use crate::errors::raise;
use crate::store::{data_to_python, meta_to_python, read_at};

/// `(items, info)`: each item `{"id", "version", "data", "metadata"}`.
pub fn retrieve_dataset<'py>(
    py: Python<'py>,
    store: &Store,
    name: &str,
    version: Option<u32>,
    as_of: Option<AsOf>,
) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyAny>)> {
    let (dataset, members) = py.detach(|| {
        read_at(store, as_of, |view| {
            let dataset = view.dataset(name, version)?;
            let members = dataset
                .members
                .iter()
                .map(|(id, version)| Ok((view.metadata(id, Some(*version))?, view.get_version(id, *version)?)))
                .collect::<recstore::Result<Vec<_>>>()?;
            Ok((dataset, members))
        })
    })?;
    let items = PyList::empty(py);
    for (meta, data) in &members {
        let item = PyDict::new(py);
        item.set_item("id", &meta.id)?;
        item.set_item("version", meta.version)?;
        item.set_item("data", data_to_python(py, data)?)?;
        item.set_item("metadata", meta_to_python(py, meta)?)?;
        items.append(item)?;
    }
    Ok((items, to_python(py, &dataset.info)?))
}

/// Blocks until the log's next offset is past `next_offset` or `timeout_ms`
/// passes, and returns the log's next offset. Sleeps on the log's watch
/// channel (appends wake it); the caller releases the GIL around this.
pub fn wait_past(store: &Store, next_offset: u64, timeout_ms: u64) -> PyResult<u64> {
    let mut published = store.log().watch();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| raise(ErrorKind::Io, format!("cannot start a timer to wait for events: {e}")))?;
    runtime.block_on(async {
        // Timing out is normal: the caller checks for close() and signals.
        let _ = tokio::time::timeout(Duration::from_millis(timeout_ms), published.wait_for(|&n| n > next_offset)).await;
    });
    let next = *published.borrow();
    Ok(next)
}

/// The export's record batches (the columns of `recstore export --format
/// parquet`) as a `pyarrow.RecordBatchReader`.
pub fn export_arrow<'py>(
    py: Python<'py>,
    store: &Store,
    query: &recstore::Query,
    as_of: Option<AsOf>,
    all_versions: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let batches = py.detach(|| {
        read_at(store, as_of, |view| {
            let targets = recstore::export::targets(view, query, all_versions)?;
            recstore::export::batches(view, &targets).map(|(batches, _pruned_count)| batches)
        })
    })?;
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), recstore::export::schema());
    let reader: Box<dyn RecordBatchReader + Send> = Box::new(reader);
    reader.into_pyarrow(py)
}
