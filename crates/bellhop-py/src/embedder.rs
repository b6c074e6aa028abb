//! `bellhop.Embedder`: sentence-transformers models embedded into numpy arrays.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use crate::convert::texts;
use crate::errors::{embed_error, invalid};

/// Where `scripts/fetch-model.sh` puts the default model, relative to the working directory.
const LOCAL_DEFAULT_MODEL: &str = "models/all-MiniLM-L6-v2";

/// The model to load when none is named: the fetched default when present, else its repo id.
pub fn default_model_spec() -> String {
    if let Some(model) = std::env::var_os("BELLHOP_MODEL") {
        return model.to_string_lossy().into_owned();
    }
    if Path::new(LOCAL_DEFAULT_MODEL)
        .join("model.safetensors")
        .is_file()
    {
        LOCAL_DEFAULT_MODEL.into()
    } else {
        bellhop_embed::DEFAULT_MODEL_REPO.into()
    }
}

/// Embedding calls running now, from any Python thread.
static ACTIVE_CALLS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This Python thread's single-threaded pool (see [`run_embedding`]).
    static OWN_POOL: Option<rayon::ThreadPool> = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "bellhop-embed-caller".into())
        .build()
        .ok();
}

/// Runs model work for one call. Alone, a call spreads its matrix products over every
/// core; when Python threads embed at the same time, each call runs on one core of its own
/// instead, because splitting small products across cores costs more in synchronisation
/// than it gains once the cores are busy with other calls.
fn run_embedding<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    struct Active;
    impl Drop for Active {
        fn drop(&mut self) {
            ACTIVE_CALLS.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let concurrent = ACTIVE_CALLS.fetch_add(1, Ordering::SeqCst) > 0;
    let _active = Active;
    if !concurrent {
        return work();
    }
    OWN_POOL.with(|pool| match pool {
        Some(pool) => pool.install(work),
        None => work(),
    })
}

/// Loads a model with the GIL released (loading maps and converts weights).
pub fn load(py: Python<'_>, spec: &str) -> PyResult<Arc<bellhop_embed::Embedder>> {
    load_in(py, spec, bellhop_embed::Precision::F32)
}

/// [`load`], keeping the dense weights in `precision`.
pub fn load_in(
    py: Python<'_>,
    spec: &str,
    precision: bellhop_embed::Precision,
) -> PyResult<Arc<bellhop_embed::Embedder>> {
    let source = bellhop_embed::ModelSource::parse(spec);
    let options = bellhop_embed::EmbedderOptions {
        precision,
        ..bellhop_embed::EmbedderOptions::default()
    };
    py.detach(|| bellhop_embed::Embedder::load_with(&source, &options))
        .map(Arc::new)
        .map_err(embed_error)
}

/// A sentence-transformers model (BERT family or EmbeddingGemma) loaded from a directory or a
/// Hugging Face repo id; its vectors match sentence-transformers'.
#[pyclass(frozen, module = "bellhop._core")]
pub struct Embedder {
    pub(crate) inner: Arc<bellhop_embed::Embedder>,
}

#[pymethods]
impl Embedder {
    #[new]
    #[pyo3(signature = (model = None, precision = "f32"))]
    fn new(py: Python<'_>, model: Option<String>, precision: &str) -> PyResult<Self> {
        let spec = model.unwrap_or_else(default_model_spec);
        let precision = precision
            .parse()
            .map_err(pyo3::exceptions::PyValueError::new_err)?;
        Ok(Self {
            inner: load_in(py, &spec, precision)?,
        })
    }

    /// Embeds texts into a float32 array of shape (len(texts), dim), one row per text in
    /// order. `batch_size` caps the texts per call into the model (default: a token budget);
    /// `prompt_name` puts one of the model's prompts (`prompts`) before every text;
    /// `dimensions` shortens the vectors to one of `matryoshka_dimensions` (cut, then scaled
    /// to unit length again).
    #[pyo3(signature = (texts, batch_size = None, prompt_name = None, dimensions = None))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        batch_size: Option<usize>,
        prompt_name: Option<String>,
        dimensions: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let texts = self::texts(texts, "texts")?;
        let step = match batch_size {
            Some(0) => return Err(invalid("batch_size must be at least 1")),
            Some(size) => size,
            None => texts.len().max(1),
        };
        let dim = self
            .inner
            .dimensions_or_full(dimensions)
            .map_err(embed_error)?;
        let inner = &self.inner;
        let data = py
            .detach(|| {
                run_embedding(|| -> Result<Vec<f32>, bellhop_embed::EmbedError> {
                    let mut data = Vec::with_capacity(texts.len() * dim);
                    for batch in texts.chunks(step) {
                        let vectors = inner
                            .embed_with_prompt(batch, prompt_name.as_deref())?
                            .shortened(dim);
                        data.extend_from_slice(vectors.as_slice());
                    }
                    Ok(data)
                })
            })
            .map_err(embed_error)?;
        // The vector moves into numpy without a copy; the reshape is a view.
        PyArray1::from_vec(py, data).reshape([texts.len(), dim])
    }

    /// Tokens the model sees for `text`, special tokens included.
    fn count_tokens(&self, py: Python<'_>, text: String) -> PyResult<usize> {
        let inner = &self.inner;
        py.detach(|| inner.count_tokens(&text)).map_err(embed_error)
    }

    /// The model's named prompts, name to text (empty for models without any).
    #[getter]
    fn prompts(&self) -> std::collections::BTreeMap<String, String> {
        self.inner.prompts().clone()
    }

    /// Width of the vectors.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// The shorter sizes the vectors may be cut to (Matryoshka), largest first, as the model
    /// card lists them; empty for a model not trained for it.
    #[getter]
    fn matryoshka_dimensions(&self) -> Vec<usize> {
        self.inner.matryoshka_dimensions().to_vec()
    }

    /// Longest input in tokens; longer texts are truncated, as sentence-transformers does.
    #[getter]
    fn max_seq_length(&self) -> usize {
        self.inner.max_seq_length()
    }

    /// The model's id (directory name or repo id), as collections record it.
    #[getter]
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn __repr__(&self) -> String {
        format!(
            "Embedder(model_id={:?}, dim={}, max_seq_length={})",
            self.inner.model_id(),
            self.inner.dim(),
            self.inner.max_seq_length()
        )
    }
}
