//! Conversion between Python objects and `serde_json::Value`, done directly
//! (never through JSON text) so floats keep every bit and refusals can name
//! the offending value's path.
//!
//! Owns the mapping rules only; it never touches the store.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Converts `object` to JSON, or raises `TypeError` naming where (`path`,
/// like `data["a"][2]`) a value JSON cannot hold sits.
pub fn to_json(object: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    if object.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is a subclass of int.
    if let Ok(flag) = object.cast::<PyBool>() {
        return Ok(Value::Bool(flag.is_true()));
    }
    if object.is_instance_of::<PyInt>() {
        return int_to_json(object, path);
    }
    if let Ok(float) = object.cast::<PyFloat>() {
        let value = float.value();
        return Number::from_f64(value).map(Value::Number).ok_or_else(|| {
            PyTypeError::new_err(format!("{path} is {value}: JSON holds no NaN or infinity; nothing was written"))
        });
    }
    if let Ok(text) = object.cast::<PyString>() {
        return Ok(Value::String(text.to_cow()?.into_owned()));
    }
    if let Ok(dict) = object.cast::<PyDict>() {
        let mut map = Map::new();
        for (key, value) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!(
                    "{path} has the key {}: JSON object keys are strings; nothing was written",
                    key.repr()?
                )));
            };
            let key = key.to_cow()?.into_owned();
            let value = to_json(&value, &format!("{path}[{key:?}]"))?;
            map.insert(key, value);
        }
        return Ok(Value::Object(map));
    }
    if object.is_instance_of::<PyList>() || object.is_instance_of::<PyTuple>() {
        let mut values = Vec::with_capacity(object.len()?);
        for (i, value) in object.try_iter()?.enumerate() {
            values.push(to_json(&value?, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(values));
    }
    Err(PyTypeError::new_err(format!(
        "{path} is a {}, which JSON cannot hold (use dict, list, str, int, float, bool or None); nothing was written",
        object.get_type().name()?
    )))
}

fn int_to_json(object: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    if let Ok(value) = object.extract::<i64>() {
        return Ok(Value::Number(value.into()));
    }
    if let Ok(value) = object.extract::<u64>() {
        return Ok(Value::Number(value.into()));
    }
    Err(PyTypeError::new_err(format!(
        "{path} is {}: integers must fit in 64 bits (-2**63 to 2**64-1); nothing was written",
        object.str()?
    )))
}

/// Converts JSON to the Python object a caller stored: dict, list, str, int,
/// float, bool or None.
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Number(number) => {
            if let Some(value) = number.as_i64() {
                value.into_pyobject(py)?.into_any()
            } else if let Some(value) = number.as_u64() {
                value.into_pyobject(py)?.into_any()
            } else {
                number.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(text) => PyString::new(py, text).into_any(),
        Value::Array(values) => {
            let list = PyList::empty(py);
            for value in values {
                list.append(to_python(py, value)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, value) in map {
                dict.set_item(key, to_python(py, value)?)?;
            }
            dict.into_any()
        }
    })
}
