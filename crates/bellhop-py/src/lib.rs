//! The `bellhop._core` Python extension: the Rust embedder, store, ingestion and chunker,
//! called with the GIL released. The pure-Python package around it (`python/bellhop`) adds
//! DataFrame input, typed results and the HTTP client.

mod chunk;
mod convert;
mod embedder;
mod errors;
mod store;

use pyo3::prelude::*;

/// The module's name is `bellhop._core`; `bellhop/__init__.py` re-exports what users need.
#[pymodule]
#[pyo3(name = "_core")]
fn bellhop_core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<embedder::Embedder>()?;
    module.add_class::<store::Store>()?;
    module.add_function(wrap_pyfunction!(chunk::chunk, module)?)?;
    Ok(())
}
