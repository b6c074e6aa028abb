//! What only the PostgreSQL backend does: copies to and from the embedded store, a database
//! that is not there at start, and one that goes away and comes back.

use std::time::{Duration, Instant};

use crate::common::{Backend, Rng, chunk, create, document, metadata, request, temp_store};
use bellhop_store::{
    IndexKind, PostgresOptions, PostgresStore, SearchMode, SourceUpdate, Store, StoreError,
    copy_collection,
};
use bellhop_test_support::PostgresServer;
use serde_json::json;

const DIM: usize = 16;

/// A fresh database on the shared server: its URL and its name.
async fn fresh_database() -> (String, String) {
    let url = tokio::task::spawn_blocking(|| PostgresServer::shared().create_database())
        .await
        .unwrap();
    let name = url.rsplit('/').next().unwrap().to_string();
    (url, name)
}

/// Documents of three sources (two ingested with a hash), with metadata and sections.
async fn fill(store: &dyn Store, name: &str) {
    let mut rng = Rng::new(11);
    for (source, hash, count) in [
        ("menu.csv", Some("hash-menu"), 300),
        ("spa.md", Some("hash-spa"), 7),
        ("api", None, 40),
    ] {
        let documents = (0..count)
            .map(|i| {
                let mut document = document(
                    &format!("{source}-{i:03}"),
                    (0..1 + i % 3)
                        .map(|part| {
                            let mut chunk = chunk(
                                format!("{source} entry {i} part {part} heated pool sauna"),
                                rng.unit_vector(DIM),
                            );
                            chunk.section = vec!["Spa".into(), format!("Part {part}")];
                            chunk
                        })
                        .collect(),
                );
                document.source = source.to_string();
                document.metadata = metadata(json!({"price": i, "tags": ["a", "b"]}));
                document
            })
            .collect();
        let update = hash.map(|hash| SourceUpdate {
            name: source.to_string(),
            content_hash: hash.to_string(),
        });
        store.put_documents(name, documents, update).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_round_trip_through_postgres_gives_identical_search_results() {
    let (_dir, original) = temp_store();
    create(&original, "hotel", DIM, IndexKind::Exact).await;
    fill(&original, "hotel").await;
    let postgres = Backend::Postgres.store().await;
    let (_back_dir, back) = temp_store();

    let there = copy_collection(&original, &postgres, "hotel", None, |_| {})
        .await
        .unwrap();
    let again = copy_collection(&postgres, &back, "hotel", None, |_| {})
        .await
        .unwrap();
    assert_eq!(there, again);
    assert_eq!((there.documents, there.sources), (347, 2));
    for store in [&postgres as &dyn Store, &back] {
        let info = store.collection("hotel").await.unwrap();
        assert_eq!(info.spec, original.collection("hotel").await.unwrap().spec);
        assert_eq!(
            store.sources("hotel").await.unwrap(),
            original.sources("hotel").await.unwrap()
        );
        assert!(store.check_integrity().await.unwrap().is_ok());
    }
    // Vectors, texts, sections and metadata arrive bit for bit.
    assert_eq!(
        back.export_documents("hotel", None, 1000).await.unwrap(),
        original
            .export_documents("hotel", None, 1000)
            .await
            .unwrap()
    );
    assert_eq!(
        postgres
            .export_documents("hotel", None, 1000)
            .await
            .unwrap(),
        original
            .export_documents("hotel", None, 1000)
            .await
            .unwrap()
    );
    let mut rng = Rng::new(99);
    for _ in 0..10 {
        let vector = rng.unit_vector(DIM);
        for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
            let request = request("heated pool entry 7", 10, mode)
                .with_filter(crate::common::filter(json!({"price": {"lt": 200}})));
            let expected = original
                .search("hotel", &request, Some(&vector))
                .await
                .unwrap();
            let round_trip = back.search("hotel", &request, Some(&vector)).await.unwrap();
            let strip = |hits: Vec<bellhop_store::Hit>| {
                hits.into_iter()
                    .map(|hit| {
                        (
                            hit.document_id,
                            hit.text,
                            hit.score,
                            hit.section,
                            hit.metadata,
                        )
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(strip(round_trip), strip(expected.clone()), "{mode:?}");
            if mode == SearchMode::Dense {
                // PostgreSQL ranks the exact collection the same way (in its own arithmetic).
                let in_postgres = postgres
                    .search("hotel", &request, Some(&vector))
                    .await
                    .unwrap();
                let ids = |hits: &[bellhop_store::Hit]| {
                    hits.iter()
                        .map(|hit| hit.document_id.clone())
                        .collect::<Vec<_>>()
                };
                assert_eq!(ids(&in_postgres), ids(&expected));
                for (a, b) in in_postgres.iter().zip(&expected) {
                    assert!((a.score - b.score).abs() < 1e-5);
                }
            }
        }
    }
    // A copy never overwrites: the target collection exists now.
    assert!(matches!(
        copy_collection(&original, &postgres, "hotel", None, |_| {}).await,
        Err(StoreError::CollectionExists(_))
    ));
}

#[tokio::test]
async fn an_unreachable_database_is_retried_then_reported_clearly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://bellhop:secret@127.0.0.1:{port}/bellhop");
    let started = Instant::now();
    let err = PostgresStore::connect(PostgresOptions::new(&url), Duration::from_millis(800))
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(800), "{err}");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(
        !message.contains("secret"),
        "the password leaked: {message}"
    );
    let bad = PostgresStore::connect(PostgresOptions::new("mysql://x"), Duration::ZERO).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_fail_fast_while_the_database_is_down_and_recover_after() {
    let server = PostgresServer::start();
    let mut options = PostgresOptions::new(server.create_database());
    options.acquire_timeout = Duration::from_millis(500);
    let store = PostgresStore::connect(options, Duration::from_secs(10))
        .await
        .unwrap();
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    fill(&store, "hotel").await;
    let keyword = request("heated pool", 5, SearchMode::Keyword);
    assert_eq!(
        store.search("hotel", &keyword, None).await.unwrap().len(),
        5
    );

    server.kill();
    let started = Instant::now();
    let err = store.search("hotel", &keyword, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the store did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Everything acknowledged before the crash is there.
    assert_eq!(
        store.search("hotel", &keyword, None).await.unwrap().len(),
        5
    );
    assert_eq!(store.collection("hotel").await.unwrap().documents, 347);
    assert!(store.check_integrity().await.unwrap().is_ok());
}

/// Index scans of the collections' HNSW indexes so far, as PostgreSQL's statistics count them.
fn hnsw_index_scans(server: &PostgresServer, database: &str) -> u64 {
    server
        .psql(
            database,
            "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes
             WHERE indexrelname LIKE 'bellhop_chunks_hnsw_%'",
        )
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_and_hybrid_searches_walk_the_hnsw_index_even_on_a_small_collection() {
    // On a few hundred rows the planner would rather fetch the collection and sort it than
    // walk the graph; the store must leave it no choice.
    let server = PostgresServer::shared();
    let (url, database) = fresh_database().await;
    let store = PostgresStore::connect(PostgresOptions::new(url), Duration::from_secs(10))
        .await
        .unwrap();
    create(&store, "hotel", DIM, IndexKind::Hnsw).await;
    fill(&store, "hotel").await;
    let mut rng = Rng::new(5);
    for mode in [SearchMode::Dense, SearchMode::Hybrid] {
        let before = hnsw_index_scans(server, &database);
        for _ in 0..3 {
            let vector = rng.unit_vector(DIM);
            let hits = store
                .search("hotel", &request("heated pool", 10, mode), Some(&vector))
                .await
                .unwrap();
            assert_eq!(hits.len(), 10, "{mode:?}");
        }
        // Backends report their statistics within a second or so of going idle.
        let deadline = Instant::now() + Duration::from_secs(20);
        while hnsw_index_scans(server, &database) < before + 3 {
            assert!(
                Instant::now() < deadline,
                "{mode:?} searches did not use the HNSW index ({} scans before, {} after)",
                before,
                hnsw_index_scans(server, &database)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_searches_a_collection_another_replica_deleted_and_created_again() {
    let url = tokio::task::spawn_blocking(|| PostgresServer::shared().create_database())
        .await
        .unwrap();
    let connect = || PostgresStore::connect(PostgresOptions::new(url.clone()), Duration::ZERO);
    let (reader, writer) = (connect().await.unwrap(), connect().await.unwrap());
    let mut rng = Rng::new(21);
    let vector = rng.unit_vector(DIM);
    let dense = request("pool", 5, SearchMode::Dense);
    for index in [IndexKind::Hnsw, IndexKind::Exact] {
        create(&writer, "hotel", DIM, index).await;
        fill(&writer, "hotel").await;
        // Twice: the second search is served by what the first taught the reader.
        for _ in 0..2 {
            let hits = reader.search("hotel", &dense, Some(&vector)).await.unwrap();
            assert_eq!(hits.len(), 5);
        }
        writer.delete_collection("hotel").await.unwrap();
        assert!(matches!(
            reader.search("hotel", &dense, Some(&vector)).await,
            Err(StoreError::CollectionNotFound(_))
        ));
        // The same name again, other contents: the reader must not answer from the old id.
        create(&writer, "hotel", DIM, index).await;
        writer
            .put_documents(
                "hotel",
                vec![document(
                    "only",
                    vec![chunk("the only chunk", vector.clone())],
                )],
                None,
            )
            .await
            .unwrap();
        let hits = reader.search("hotel", &dense, Some(&vector)).await.unwrap();
        assert_eq!(hits.len(), 1, "{index:?}");
        assert_eq!(hits[0].document_id, "only");
        writer.delete_collection("hotel").await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_before_kept_counts_gets_them() {
    let server = PostgresServer::shared();
    let (url, database) = fresh_database().await;
    let connect =
        || PostgresStore::connect(PostgresOptions::new(url.clone()), Duration::from_secs(10));
    let store = connect().await.unwrap();
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let mut rng = Rng::new(3);
    let documents = vec![
        document(
            "a",
            vec![
                chunk("one", rng.unit_vector(DIM)),
                chunk("two", rng.unit_vector(DIM)),
            ],
        ),
        document("b", vec![chunk("three", rng.unit_vector(DIM))]),
    ];
    store.put_documents("hotel", documents, None).await.unwrap();
    drop(store);
    // The schema before the counts existed.
    server.psql(
        &database,
        "ALTER TABLE bellhop_collections DROP COLUMN document_count, DROP COLUMN chunk_count;
         DELETE FROM _sqlx_migrations WHERE version = 3",
    );
    let store = connect().await.unwrap();
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks), (2, 3));
    assert!(store.check_integrity().await.unwrap().is_ok());
    store.delete_document("hotel", "a").await.unwrap();
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyword_index_takes_words_at_once_not_through_a_pending_list() {
    let server = PostgresServer::shared();
    let (url, database) = fresh_database().await;
    let store = PostgresStore::connect(PostgresOptions::new(url), Duration::from_secs(10))
        .await
        .unwrap();
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    fill(&store, "hotel").await;
    // A long pending list makes the planner read every chunk row instead of the index.
    let options = server.psql(
        &database,
        "SELECT reloptions FROM pg_class WHERE relname = 'bellhop_chunks_keywords'",
    );
    assert!(options.contains("fastupdate=off"), "{options}");
    let pending = server.psql(
        &database,
        "CREATE EXTENSION IF NOT EXISTS pageinspect;
         SELECT n_pending_tuples FROM gin_metapage_info(get_raw_page('bellhop_chunks_keywords', 0))",
    );
    assert!(pending.lines().any(|line| line.trim() == "0"), "{pending}");
}
