//! Shared helpers of the store's integration tests: a temporary store, synthetic vectors,
//! documents and searches.
#![allow(dead_code)]

use bellhop_store::{
    CollectionInfo, CollectionSpec, EmbeddedStore, Filter, Hit, IndexKind, Metadata, NewChunk,
    NewDocument, SearchMode, SearchRequest, Store,
};
use serde_json::Value;

/// A store in a fresh temporary directory (kept alive by the returned guard).
pub fn temp_store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(dir.path()).expect("the store opens");
    (dir, store)
}

/// Creates a collection of dimension `dim` with the given index kind.
pub async fn create(
    store: &EmbeddedStore,
    name: &str,
    dim: usize,
    index: IndexKind,
) -> CollectionInfo {
    let mut spec = CollectionSpec::new(name, "synthetic", dim);
    spec.index = index;
    store
        .create_collection(spec)
        .await
        .expect("the collection is created")
}

/// A deterministic pseudo-random generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `[-1, 1)`.
    pub fn signed(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// A random unit vector.
    pub fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        normalize((0..dim).map(|_| self.signed()).collect())
    }
}

/// `vector` scaled to unit length.
pub fn normalize(vector: Vec<f32>) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    vector.into_iter().map(|x| x / norm).collect()
}

/// The unit vector along `axis`.
pub fn axis(dim: usize, axis: usize) -> Vec<f32> {
    let mut vector = vec![0.0; dim];
    vector[axis] = 1.0;
    vector
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// A chunk without section headings.
pub fn chunk(text: impl Into<String>, vector: Vec<f32>) -> NewChunk {
    NewChunk {
        section: Vec::new(),
        text: text.into(),
        vector,
    }
}

/// A document titled after its id, from `test.md`, without metadata.
pub fn document(id: &str, chunks: Vec<NewChunk>) -> NewDocument {
    NewDocument {
        id: id.to_string(),
        title: format!("Title of {id}"),
        source: "test.md".to_string(),
        metadata: Metadata::new(),
        chunks,
    }
}

/// A one-chunk document.
pub fn single(id: &str, text: &str, vector: Vec<f32>) -> NewDocument {
    document(id, vec![chunk(text, vector)])
}

/// Metadata from a JSON object literal.
pub fn metadata(value: Value) -> Metadata {
    value.as_object().expect("a JSON object").clone()
}

/// A filter from its JSON form.
pub fn filter(value: Value) -> Filter {
    Filter::from_json(&value).expect("a valid filter")
}

/// A request in `mode` for the top `k`.
pub fn request(query: &str, k: usize, mode: SearchMode) -> SearchRequest {
    SearchRequest::new(query, k).with_mode(mode)
}

/// Dense search by vector.
pub async fn dense(store: &EmbeddedStore, collection: &str, vector: &[f32], k: usize) -> Vec<Hit> {
    store
        .search(
            collection,
            &request("dense query", k, SearchMode::Dense),
            Some(vector),
        )
        .await
        .expect("dense search")
}

/// Keyword search by text.
pub async fn keyword(store: &EmbeddedStore, collection: &str, query: &str, k: usize) -> Vec<Hit> {
    store
        .search(collection, &request(query, k, SearchMode::Keyword), None)
        .await
        .expect("keyword search")
}

/// The hits' document ids, in order.
pub fn document_ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|hit| hit.document_id.clone()).collect()
}

/// The hits' document ids, sorted and deduplicated.
pub fn document_set(hits: &[Hit]) -> Vec<String> {
    let mut ids = document_ids(hits);
    ids.sort();
    ids.dedup();
    ids
}
