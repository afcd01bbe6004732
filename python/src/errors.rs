//! `recstore::Error` to the Python exception classes of `recstore._errors`.
//!
//! Owns the one exhaustive match from `ErrorKind` to a class name; the
//! classes themselves (and their multiple inheritance, e.g. `NotFound` is
//! also a `KeyError`) are defined in Python, where that is natural.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use recstore::ErrorKind;

/// The Python class raised for each kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "InvalidInput",
        ErrorKind::Usage => "UsageError",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Deleted => "Deleted",
        ErrorKind::Pruned => "Pruned",
        ErrorKind::Horizon => "HorizonError",
        ErrorKind::TooLarge => "TooLarge",
        ErrorKind::Corruption => "Corruption",
        ErrorKind::Locked => "Locked",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Io => "IoError",
        ErrorKind::Unauthorized => "Unauthorized",
        ErrorKind::MethodNotAllowed => "MethodNotAllowed",
        ErrorKind::BrokenPipe => "BrokenPipe",
        ErrorKind::Internal => "InternalError",
        // `ErrorKind` is non_exhaustive: a kind added later is still a
        // `recstore.Error`, with its `kind` attribute set.
        _ => "Error",
    }
}

/// The exception for `kind` with `message`; `kind.as_str()` travels along
/// as the exception's `kind` attribute.
pub fn raise(kind: ErrorKind, message: String) -> PyErr {
    Python::attach(|py| {
        let class = py.import("recstore._errors").and_then(|module| module.getattr(class_name(kind)));
        match class.and_then(|class| class.call1((message.clone(), kind.as_str()))) {
            Ok(exception) => PyErr::from_value(exception),
            // Only if the package is broken: keep the message anyway.
            Err(_) => PyRuntimeError::new_err(format!("{}: {message}", kind.as_str())),
        }
    })
}

/// Converts a library error to its Python exception.
pub fn to_py(error: recstore::Error) -> PyErr {
    raise(error.kind(), error.to_string())
}

/// Shorthand for `map_err(to_py)`.
pub trait OrRaise<T> {
    /// The value, or the library error raised as its Python exception.
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for recstore::Result<T> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
