//! The native half of the `recstore` Python package (`recstore._recstore`).
//!
//! Owns type conversion and GIL release around the `recstore` library, and
//! nothing else: no store logic lives here, and the ergonomic API (time
//! forms, `ItemRef`, iterators, dataframes, migration) is the pure-Python
//! layer in `python/recstore/`. Read `python/README` section of the
//! top-level README for the API.

mod convert;
mod errors;
mod reads;
mod store;

use pyo3::prelude::*;

/// The module `recstore._recstore`.
#[pymodule]
fn _recstore(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<store::NativeStore>()?;
    Ok(())
}
