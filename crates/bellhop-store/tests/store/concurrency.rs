//! Concurrent writers and readers against both real backends (embedded and PostgreSQL): a search sees a
//! document rewrite entirely or not at all, and racing writes never deadlock the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::common::{Backend, Rng, TestStore, chunk, create, document, normalize, request};
use bellhop_store::{Hit, IndexKind, NewDocument, SearchMode, Store};

const DIM: usize = 16;
const WRITES: u64 = 200;
const CHUNKS_PER_VERSION: usize = 3;

/// Version `n` of "doc": three chunks marked `version{n}` sharing one vector near `base`.
fn version(n: u64, base: &[f32], rng: &mut Rng) -> NewDocument {
    let vector = normalize(base.iter().map(|x| x + 0.05 * rng.signed()).collect());
    document(
        "doc",
        (0..CHUNKS_PER_VERSION)
            .map(|part| {
                chunk(
                    format!("concierge lobby notes version{n} part {part}"),
                    vector.clone(),
                )
            })
            .collect(),
    )
}

/// The version seen in one search's hits of "doc", checking that it is one whole version.
fn seen_version(hits: &[Hit], context: &str) -> u64 {
    let versions: Vec<u64> = hits
        .iter()
        .filter(|hit| hit.document_id == "doc")
        .map(|hit| {
            let marker = hit
                .text
                .split_whitespace()
                .find_map(|word| word.strip_prefix("version"))
                .expect("a version marker");
            marker.parse().expect("a version number")
        })
        .collect();
    assert_eq!(
        versions.len(),
        CHUNKS_PER_VERSION,
        "{context}: expected every chunk of one version, got {versions:?}"
    );
    assert!(
        versions.iter().all(|v| *v == versions[0]),
        "{context}: mixed versions {versions:?}"
    );
    versions[0]
}

async fn readers_see_whole_versions(backend: Backend, kind: IndexKind) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, kind).await;
    let mut rng = Rng::new(31);
    let base = rng.unit_vector(DIM);
    // Unrelated documents, some sharing the query words, none near the query vector.
    let fillers: Vec<NewDocument> = (0..5)
        .map(|i| {
            let far = normalize(
                base.iter()
                    .map(|x| -x + 0.5 * rng.signed())
                    .collect::<Vec<f32>>(),
            );
            document(
                &format!("filler-{i}"),
                vec![chunk(format!("the concierge desk {i}"), far)],
            )
        })
        .collect();
    store.put_documents("hotel", fillers, None).await.unwrap();
    store
        .put_documents("hotel", vec![version(1, &base, &mut rng)], None)
        .await
        .unwrap();

    let store = Arc::new(store);
    let base = Arc::new(base);
    let done = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..4)
        .map(|reader| {
            let (store, base, done, searches) = (
                Arc::clone(&store),
                Arc::clone(&base),
                Arc::clone(&done),
                Arc::clone(&searches),
            );
            tokio::spawn(async move {
                let mut last = 0;
                let mut round = 0u64;
                while !done.load(Ordering::Acquire) {
                    round += 1;
                    let mode = match (round + reader) % 3 {
                        0 => SearchMode::Keyword,
                        1 => SearchMode::Dense,
                        _ => SearchMode::Hybrid,
                    };
                    // Dense ranks the three chunks of "doc" first; keyword and hybrid ask
                    // for enough hits to hold every chunk that has the words.
                    let k = if mode == SearchMode::Dense { 3 } else { 10 };
                    let hits = store
                        .search(
                            "hotel",
                            &request("concierge lobby notes", k, mode),
                            Some(&base),
                        )
                        .await
                        .unwrap();
                    let seen = seen_version(&hits, &format!("reader {reader} {mode:?}"));
                    assert!(
                        seen >= last,
                        "reader {reader} saw version {seen} after {last}"
                    );
                    last = seen;
                    searches.fetch_add(1, Ordering::Relaxed);
                }
                last
            })
        })
        .collect();

    let writer = {
        let store = Arc::clone(&store);
        let base = Arc::clone(&base);
        tokio::spawn(async move {
            let mut rng = Rng::new(77);
            for n in 2..=WRITES {
                store
                    .put_documents("hotel", vec![version(n, &base, &mut rng)], None)
                    .await
                    .unwrap();
                if n % 8 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };
    let outcome = tokio::time::timeout(Duration::from_secs(60), writer).await;
    done.store(true, Ordering::Release);
    outcome.expect("the writer finishes").unwrap();
    for reader in readers {
        let last = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("the reader stops")
            .unwrap();
        assert!(last <= WRITES);
    }
    assert!(searches.load(Ordering::Relaxed) >= 20, "readers hardly ran");

    let hits = store
        .search(
            "hotel",
            &request("concierge", 10, SearchMode::Keyword),
            None,
        )
        .await
        .unwrap();
    assert_eq!(seen_version(&hits, "after the writes"), WRITES);
    let info = store.collection("hotel").await.unwrap();
    assert_eq!(
        (info.documents, info.chunks, info.version),
        (6, 8, WRITES + 1)
    );
    assert!(store.check_integrity().await.unwrap().is_ok());
}

async fn readers_never_see_half_a_rewrite_on_an_exact_collection(backend: Backend) {
    readers_see_whole_versions(backend, IndexKind::Auto).await;
}

async fn readers_never_see_half_a_rewrite_on_an_hnsw_collection(backend: Backend) {
    readers_see_whole_versions(backend, IndexKind::Hnsw).await;
}

/// Deletes collections while large writes to them are in flight, many times: every call
/// must return (a write may fail once its collection is gone) and the store stays sound.
#[test]
fn deleting_a_collection_while_writing_to_it_does_not_deadlock_on_embedded() {
    delete_collections_while_writing(Backend::Embedded);
}

#[test]
fn deleting_a_collection_while_writing_to_it_does_not_deadlock_on_postgres() {
    delete_collections_while_writing(Backend::Postgres);
}

fn delete_collections_while_writing(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let finished = runtime.block_on(async {
        let store = backend.store().await;
        tokio::time::timeout(Duration::from_secs(90), race_deletes_with_writes(store)).await
    });
    // A deadlocked blocking task would hang the runtime's shutdown; leave it behind.
    runtime.shutdown_background();
    finished.expect("a write racing a collection delete deadlocked the store");
}

async fn race_deletes_with_writes(store: TestStore) {
    let mut rng = Rng::new(5);
    let batch: Vec<NewDocument> = (0..400)
        .map(|i| {
            document(
                &format!("d{i}"),
                (0..3)
                    .map(|part| chunk(format!("entry {i} part {part}"), rng.unit_vector(DIM)))
                    .collect(),
            )
        })
        .collect();
    for round in 0..30 {
        let name = format!("race-{round}");
        create(&store, &name, DIM, IndexKind::Auto).await;
        let write = {
            let (store, name, batch) = (store.clone(), name.clone(), batch.clone());
            let delay = Duration::from_micros(rng.below(5_000));
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                store.put_documents(&name, batch, None).await
            })
        };
        tokio::time::sleep(Duration::from_micros(rng.below(20_000))).await;
        store.delete_collection(&name).await.unwrap();
        // The write either finished first or fails; it must not leave anything behind.
        let _ = write.await.unwrap();
        assert!(store.collection(&name).await.is_err());
    }
    assert!(store.list_collections().await.unwrap().is_empty());
    let report = store.check_integrity().await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.chunks, 0);
}

backend_tests!(
    readers_never_see_half_a_rewrite_on_an_exact_collection,
    readers_never_see_half_a_rewrite_on_an_hnsw_collection,
);
