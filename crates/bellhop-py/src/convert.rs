//! Values between Python and Rust: serde types through `pythonize`, and text sequences.

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::invalid;

/// A serde value as Python dicts, lists and scalars.
pub fn to_python<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(pythonize::pythonize(py, value)?)
}

/// A Python value as a serde type; `what` names it in the error.
pub fn from_python<T: DeserializeOwned>(value: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    pythonize::depythonize(value).map_err(|err| invalid(format!("invalid {what}: {err}")))
}

/// A list (or any iterable) of strings. A bare string is refused: iterating it would embed
/// each character.
pub fn texts(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if value.is_instance_of::<PyString>() {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} must be a list of strings, not a single string (wrap it: [text])"
        )));
    }
    let items = value.try_iter().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} must be a list of strings, got {}",
            type_name(value)
        ))
    })?;
    let mut texts = Vec::with_capacity(value.len().unwrap_or(0));
    for (index, item) in items.enumerate() {
        let item = item?;
        let text = item.extract::<String>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "{what}[{index}] must be a string, got {}",
                type_name(&item)
            ))
        })?;
        texts.push(text);
    }
    Ok(texts)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "an unknown type".into(), |name| name.to_string())
}
