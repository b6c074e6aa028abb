//! Collections and documents against both real backends (embedded and PostgreSQL): creation, validation,
//! atomic replacement, source updates, and reopening a data directory.

use crate::common::{
    Backend, Rng, TestStore, axis, chunk, create, dense, document, document_ids, keyword, metadata,
    normalize, request, single, temp_store,
};
use bellhop_store::{
    ActiveIndex, CollectionSpec, EmbeddedStore, IndexKind, SearchMode, SearchRequest,
    SettingsUpdate, SourceUpdate, Store, StoreError,
};
use serde_json::json;

const DIM: usize = 8;

async fn collections_are_created_read_listed_and_deleted(backend: Backend) {
    let store = backend.store().await;
    let mut spec = CollectionSpec::new("hotel", "all-MiniLM-L6-v2", DIM);
    spec.system_prompt = Some("You are the concierge.".into());
    let created = store.create_collection(spec.clone()).await.unwrap();
    assert_eq!(created.spec, spec);
    assert_eq!(
        (created.documents, created.chunks, created.version),
        (0, 0, 0)
    );
    assert_eq!(store.collection("hotel").await.unwrap(), created);

    create(&store, "b-menu_2", DIM, IndexKind::Exact).await;
    create(&store, "a-spa", DIM, IndexKind::Auto).await;
    let names: Vec<String> = store
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.spec.name)
        .collect();
    assert_eq!(names, ["a-spa", "b-menu_2", "hotel"]);

    store
        .put_documents("hotel", vec![single("d", "lobby", axis(DIM, 0))], None)
        .await
        .unwrap();
    store.delete_collection("hotel").await.unwrap();
    assert!(matches!(
        store.collection("hotel").await,
        Err(StoreError::CollectionNotFound(name)) if name == "hotel"
    ));
    assert_eq!(store.list_collections().await.unwrap().len(), 2);
    assert_eq!(store.collection_count().await.unwrap(), 2);

    // The name is free again, and the new collection starts empty.
    let again = create(&store, "hotel", DIM, IndexKind::Auto).await;
    assert_eq!((again.documents, again.chunks, again.version), (0, 0, 0));
    assert!(keyword(&store, "hotel", "lobby", 5).await.is_empty());
    assert!(store.check_integrity().await.unwrap().is_ok());
}

async fn a_taken_collection_name_is_refused(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let err = store
        .create_collection(CollectionSpec::new("hotel", "other-model", 16))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::CollectionExists(name) if name == "hotel"));
    assert_eq!(store.collection("hotel").await.unwrap().spec.dim, DIM);
}

async fn invalid_collection_specs_are_refused(backend: Backend) {
    let store = backend.store().await;
    let long = "a".repeat(65);
    for name in ["", "a b", "../x", "-leading-dash", "naïve", long.as_str()] {
        let err = store
            .create_collection(CollectionSpec::new(name, "m", DIM))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{name:?}: {err:?}");
    }
    create(&store, &"a".repeat(64), DIM, IndexKind::Auto).await;
    for dim in [0, 16_385] {
        let err = store
            .create_collection(CollectionSpec::new("dims", "m", dim))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "dim {dim}: {err:?}");
    }
    let mut overlapping = CollectionSpec::new("chunking", "m", DIM);
    overlapping.chunking.overlap_tokens = overlapping.chunking.max_tokens;
    assert!(matches!(
        store.create_collection(overlapping).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.list_collections().await.unwrap().len(), 1);
    assert_eq!(store.collection_count().await.unwrap(), 1);
}

async fn every_method_reports_an_unknown_collection(backend: Backend) {
    let store = backend.store().await;
    let missing = |result: Result<(), StoreError>, method: &str| match result {
        Err(StoreError::CollectionNotFound(name)) => assert_eq!(name, "nowhere", "{method}"),
        other => panic!("{method}: expected CollectionNotFound, got {other:?}"),
    };
    missing(store.collection("nowhere").await.map(drop), "collection");
    missing(
        store.delete_collection("nowhere").await,
        "delete_collection",
    );
    missing(
        store
            .put_documents("nowhere", vec![single("d", "x", axis(DIM, 0))], None)
            .await
            .map(drop),
        "put_documents",
    );
    missing(
        store.delete_document("nowhere", "d").await.map(drop),
        "delete_document",
    );
    missing(store.document("nowhere", "d").await.map(drop), "document");
    missing(
        store.list_documents("nowhere", 0, 10).await.map(drop),
        "list_documents",
    );
    missing(
        store.source_hash("nowhere", "a.md").await.map(drop),
        "source_hash",
    );
    for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
        missing(
            store
                .search(
                    "nowhere",
                    &SearchRequest::new("pool", 5).unwrap().with_mode(mode),
                    Some(&axis(DIM, 0)),
                )
                .await
                .map(drop),
            "search",
        );
    }
}

async fn counts_and_version_follow_writes(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let two_chunks = |id: &str| {
        document(
            id,
            vec![chunk("one", axis(DIM, 0)), chunk("two", axis(DIM, 1))],
        )
    };
    let receipt = store
        .put_documents("hotel", vec![two_chunks("a"), two_chunks("b")], None)
        .await
        .unwrap();
    assert_eq!(
        (
            receipt.version,
            receipt.documents,
            receipt.chunks,
            receipt.removed
        ),
        (1, 2, 4, 0)
    );
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks, info.version), (2, 4, 1));

    let receipt = store
        .put_documents("hotel", vec![single("a", "only", axis(DIM, 2))], None)
        .await
        .unwrap();
    assert_eq!(receipt.version, 2);
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks, info.version), (2, 3, 2));

    let receipt = store.delete_document("hotel", "b").await.unwrap();
    assert_eq!((receipt.version, receipt.removed), (3, 1));
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks, info.version), (1, 1, 3));

    // Collections count separately.
    let other = create(&store, "spa", DIM, IndexKind::Auto).await;
    assert_eq!(other.version, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_active_index_follows_the_index_kind() {
    let (_dir, store) = temp_store();
    for (name, kind, expected) in [
        ("auto", IndexKind::Auto, ActiveIndex::Exact),
        ("exact", IndexKind::Exact, ActiveIndex::Exact),
        ("hnsw", IndexKind::Hnsw, ActiveIndex::Hnsw),
    ] {
        let info = create(&store, name, DIM, kind).await;
        assert_eq!(info.spec.index, kind);
        assert_eq!(info.active_index, expected, "{name} when created");
        store
            .put_documents(name, vec![single("d", "text", axis(DIM, 3))], None)
            .await
            .unwrap();
        let info = store.collection(name).await.unwrap();
        assert_eq!(info.active_index, expected, "{name} after a write");
        let hits = dense(&store, name, &axis(DIM, 3), 1).await;
        assert_eq!(document_ids(&hits), ["d"], "{name}");
    }
}

async fn documents_are_stored_and_listed_in_pages(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let mut documents: Vec<_> = (0..7)
        .rev()
        .map(|i| {
            let mut doc = document(
                &format!("doc-{i}"),
                (0..=i)
                    .map(|c| chunk(format!("chunk {c}"), axis(DIM, c % DIM)))
                    .collect(),
            );
            doc.source = format!("source-{i}.md");
            doc.metadata = metadata(json!({"floor": i, "tags": ["a", "b"], "open": true}));
            doc
        })
        .collect();
    documents[0].chunks[0].section = vec!["Amenities".into(), "Pool".into()];
    store.put_documents("hotel", documents, None).await.unwrap();

    let info = store.document("hotel", "doc-6").await.unwrap();
    assert_eq!(info.id, "doc-6");
    assert_eq!(info.title, "Title of doc-6");
    assert_eq!(info.source, "source-6.md");
    assert_eq!(
        info.metadata,
        metadata(json!({"floor": 6, "tags": ["a", "b"], "open": true}))
    );
    assert_eq!(info.chunks, 7);
    assert!(info.updated_at > 1_600_000_000, "{}", info.updated_at);

    let hit = &keyword(&store, "hotel", "pool", 1).await[0];
    assert_eq!(hit.document_id, "doc-6");
    assert_eq!(hit.section, ["Amenities", "Pool"]);

    let ids = |page: Vec<bellhop_store::DocumentInfo>| -> Vec<String> {
        page.into_iter().map(|d| d.id).collect()
    };
    let all = ids(store.list_documents("hotel", 0, 100).await.unwrap());
    assert_eq!(all, (0..7).map(|i| format!("doc-{i}")).collect::<Vec<_>>());
    assert_eq!(
        ids(store.list_documents("hotel", 0, 3).await.unwrap()),
        ["doc-0", "doc-1", "doc-2"]
    );
    assert_eq!(
        ids(store.list_documents("hotel", 3, 3).await.unwrap()),
        ["doc-3", "doc-4", "doc-5"]
    );
    assert_eq!(
        ids(store.list_documents("hotel", 6, 3).await.unwrap()),
        ["doc-6"]
    );
    assert!(
        store
            .list_documents("hotel", 7, 3)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_documents("hotel", 0, 0)
            .await
            .unwrap()
            .is_empty()
    );
    let page = store.list_documents("hotel", 2, 1).await.unwrap();
    assert_eq!(page[0].chunks, 3);
}

async fn putting_a_document_again_replaces_all_its_chunks(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let old = document(
        "pool",
        vec![
            chunk("The rooftop swimming area opens at seven", axis(DIM, 0)),
            chunk("Towels are handed out at the kiosk", axis(DIM, 1)),
            chunk("Lifeguards watch the water until dusk", axis(DIM, 2)),
        ],
    );
    let other = single("spa", "The sauna is downstairs", axis(DIM, 7));
    store
        .put_documents("hotel", vec![old, other], None)
        .await
        .unwrap();
    assert_eq!(keyword(&store, "hotel", "towels", 5).await.len(), 1);
    // Each old chunk is the only one on its axis (the others tie at cosine 0).
    let mut first_ids = Vec::new();
    for old_axis in 0..3 {
        first_ids.push(dense(&store, "hotel", &axis(DIM, old_axis), 1).await[0].chunk_id);
    }

    let new = document(
        "pool",
        vec![
            chunk("The indoor basin is heated all year", axis(DIM, 4)),
            chunk("Goggles can be borrowed at reception", axis(DIM, 5)),
        ],
    );
    store.put_documents("hotel", vec![new], None).await.unwrap();

    for word in ["rooftop", "towels", "lifeguards", "seven"] {
        assert!(
            keyword(&store, "hotel", word, 10).await.is_empty(),
            "{word} is still found"
        );
    }
    assert_eq!(
        document_ids(&keyword(&store, "hotel", "goggles", 10).await),
        ["pool"]
    );
    assert_eq!(
        document_ids(&keyword(&store, "hotel", "heated basin", 10).await),
        ["pool"]
    );
    // The old vectors are gone from the vector index: the nearest chunks to them are now
    // other chunks, never a stale one.
    for old_axis in 0..3 {
        for hit in dense(&store, "hotel", &axis(DIM, old_axis), 10).await {
            assert!(!first_ids.contains(&hit.chunk_id), "stale chunk {hit:?}");
            assert!(hit.score < 0.5, "{hit:?}");
        }
    }
    let best = &dense(&store, "hotel", &axis(DIM, 5), 1).await[0];
    assert_eq!(best.text, "Goggles can be borrowed at reception");
    assert!((best.score - 1.0).abs() < 1e-5);

    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks), (2, 3));
    assert_eq!(store.document("hotel", "pool").await.unwrap().chunks, 2);
    assert!(store.check_integrity().await.unwrap().is_ok());
}

async fn deleting_a_document_removes_it_everywhere(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    store
        .put_documents(
            "hotel",
            vec![
                single("pool", "The pool opens at seven", axis(DIM, 0)),
                single("spa", "The spa opens at nine", axis(DIM, 1)),
            ],
            None,
        )
        .await
        .unwrap();
    store.delete_document("hotel", "pool").await.unwrap();

    assert!(matches!(
        store.document("hotel", "pool").await,
        Err(StoreError::DocumentNotFound { collection, document })
            if collection == "hotel" && document == "pool"
    ));
    assert!(matches!(
        store.delete_document("hotel", "pool").await,
        Err(StoreError::DocumentNotFound { .. })
    ));
    assert_eq!(
        document_ids(&keyword(&store, "hotel", "opens", 10).await),
        ["spa"]
    );
    assert_eq!(
        document_ids(&dense(&store, "hotel", &axis(DIM, 0), 10).await),
        ["spa"]
    );
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks, info.version), (1, 1, 2));
}

async fn a_source_update_records_its_hash_and_drops_documents_it_no_longer_yields(
    backend: Backend,
) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let from = |id: &str, source: &str, axis_index: usize| {
        let mut doc = single(id, &format!("{id} section text"), axis(DIM, axis_index));
        doc.source = source.to_string();
        doc
    };
    let update = |hash: &str| {
        Some(SourceUpdate {
            name: "menu.md".into(),
            content_hash: hash.into(),
        })
    };
    assert_eq!(store.source_hash("hotel", "menu.md").await.unwrap(), None);
    store
        .put_documents("hotel", vec![from("other", "faq.md", 4)], None)
        .await
        .unwrap();
    let receipt = store
        .put_documents(
            "hotel",
            vec![
                from("menu#starters", "menu.md", 0),
                from("menu#mains", "menu.md", 1),
                from("menu#desserts", "menu.md", 2),
            ],
            update("h1"),
        )
        .await
        .unwrap();
    assert_eq!((receipt.documents, receipt.removed), (3, 0));
    assert_eq!(
        store
            .source_hash("hotel", "menu.md")
            .await
            .unwrap()
            .as_deref(),
        Some("h1")
    );

    let receipt = store
        .put_documents(
            "hotel",
            vec![
                from("menu#starters", "menu.md", 0),
                from("menu#desserts", "menu.md", 2),
            ],
            update("h2"),
        )
        .await
        .unwrap();
    assert_eq!((receipt.documents, receipt.removed), (2, 1));
    assert_eq!(
        store
            .source_hash("hotel", "menu.md")
            .await
            .unwrap()
            .as_deref(),
        Some("h2")
    );
    assert!(matches!(
        store.document("hotel", "menu#mains").await,
        Err(StoreError::DocumentNotFound { .. })
    ));
    assert!(keyword(&store, "hotel", "mains", 10).await.is_empty());
    assert_ne!(
        dense(&store, "hotel", &axis(DIM, 1), 1).await[0].document_id,
        "menu#mains"
    );
    // Documents of other sources stay.
    store.document("hotel", "other").await.unwrap();
    assert_eq!(store.collection("hotel").await.unwrap().documents, 3);
    assert_eq!(store.source_hash("hotel", "faq.md").await.unwrap(), None);

    // A source that yields nothing any more removes all its documents.
    let receipt = store
        .put_documents("hotel", Vec::new(), update("h3"))
        .await
        .unwrap();
    assert_eq!(receipt.removed, 2);
    assert_eq!(store.collection("hotel").await.unwrap().documents, 1);
    assert!(store.check_integrity().await.unwrap().is_ok());
}

async fn invalid_writes_leave_the_store_unchanged(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    store
        .put_documents(
            "hotel",
            vec![single("kept", "kept text", axis(DIM, 0))],
            None,
        )
        .await
        .unwrap();
    let before = store.collection("hotel").await.unwrap();
    let valid = || single("fresh", "fresh text", axis(DIM, 1));
    let with_metadata = |value| {
        let mut doc = single("meta", "meta text", axis(DIM, 2));
        doc.metadata = metadata(value);
        doc
    };
    let mut nan = axis(DIM, 3);
    nan[1] = f32::NAN;
    let mut infinite = axis(DIM, 3);
    infinite[2] = f32::INFINITY;
    let bad_batches = [
        (
            "wrong dimension",
            vec![valid(), single("short", "x", vec![1.0; DIM - 1])],
        ),
        ("empty id", vec![valid(), single("", "x", axis(DIM, 0))]),
        ("blank id", vec![valid(), single("  ", "x", axis(DIM, 0))]),
        ("duplicate id", vec![valid(), valid()]),
        ("no chunks", vec![valid(), document("hollow", Vec::new())]),
        ("NaN", vec![valid(), single("nan", "x", nan)]),
        ("infinity", vec![valid(), single("inf", "x", infinite)]),
        (
            "nested object",
            vec![valid(), with_metadata(json!({"a": {"b": 1}}))],
        ),
        ("null", vec![valid(), with_metadata(json!({"a": null}))]),
        (
            "nested list",
            vec![valid(), with_metadata(json!({"a": [["b"]]}))],
        ),
        (
            "object in list",
            vec![valid(), with_metadata(json!({"a": [{"b": 1}]}))],
        ),
    ];
    for (case, batch) in bad_batches {
        let update = SourceUpdate {
            name: "test.md".into(),
            content_hash: "bad".into(),
        };
        let err = store
            .put_documents("hotel", batch, Some(update))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{case}: {err:?}");
        assert_eq!(store.collection("hotel").await.unwrap(), before, "{case}");
        assert!(
            matches!(
                store.document("hotel", "fresh").await,
                Err(StoreError::DocumentNotFound { .. })
            ),
            "{case}"
        );
        store.document("hotel", "kept").await.unwrap();
        assert_eq!(store.source_hash("hotel", "test.md").await.unwrap(), None);
    }
    assert!(keyword(&store, "hotel", "fresh", 10).await.is_empty());
    assert_eq!(
        document_ids(&dense(&store, "hotel", &axis(DIM, 1), 10).await),
        ["kept"]
    );
    assert!(store.check_integrity().await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reopened_store_has_everything_and_is_sound() {
    let dir = tempfile::tempdir().unwrap();
    let words = ["breakfast", "parking", "laundry", "shuttle", "minibar"];
    let written = {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        for (name, kind) in [("auto", IndexKind::Auto), ("hnsw", IndexKind::Hnsw)] {
            create(&store, name, DIM, kind).await;
            let documents = words
                .iter()
                .enumerate()
                .map(|(i, word)| {
                    let mut doc = document(
                        word,
                        vec![
                            chunk(format!("All about {word}"), axis(DIM, i)),
                            chunk(
                                format!("More on the {word} service"),
                                crate::common::normalize(vec![
                                    0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
                                ]),
                            ),
                        ],
                    );
                    doc.metadata = metadata(json!({"rank": i}));
                    doc
                })
                .collect();
            store
                .put_documents(
                    name,
                    documents,
                    Some(SourceUpdate {
                        name: "test.md".into(),
                        content_hash: "abc".into(),
                    }),
                )
                .await
                .unwrap();
            store.delete_document(name, "minibar").await.unwrap();
        }
        store.list_collections().await.unwrap()
    };

    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(store.list_collections().await.unwrap(), written);
    let report = store.check_integrity().await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.collections, report.chunks), (2, 16));
    for name in ["auto", "hnsw"] {
        assert_eq!(
            store.source_hash(name, "test.md").await.unwrap().as_deref(),
            Some("abc")
        );
        for (i, word) in words.iter().enumerate().take(4) {
            let info = store.document(name, word).await.unwrap();
            assert_eq!(
                (info.chunks, info.metadata.clone()),
                (2, metadata(json!({"rank": i})))
            );
            assert_eq!(
                document_ids(&keyword(&store, name, word, 10).await),
                [*word, *word]
            );
            let best = &dense(&store, name, &axis(DIM, i), 1).await[0];
            assert_eq!(best.text, format!("All about {word}"), "{name}");
        }
        assert!(keyword(&store, name, "minibar", 10).await.is_empty());
        assert_eq!(dense(&store, name, &axis(DIM, 0), 100).await.len(), 8);
    }
    // Writes after reopening continue the versions and ids.
    let receipt = store
        .put_documents(
            "auto",
            vec![single("late", "late checkout", axis(DIM, 7))],
            None,
        )
        .await
        .unwrap();
    assert_eq!(receipt.version, 3);
    assert_eq!(
        document_ids(&keyword(&store, "auto", "checkout", 5).await),
        ["late"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_directory_is_opened_by_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedStore::open(dir.path()).unwrap();
    create(&first, "hotel", DIM, IndexKind::Auto).await;
    let err = EmbeddedStore::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    // Clones share the one open store; the directory is free once every clone is gone.
    let clone = first.clone();
    drop(first);
    assert!(EmbeddedStore::open(dir.path()).is_err());
    drop(clone);
    let second = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(second.collection("hotel").await.unwrap().spec.dim, DIM);
}

/// The HNSW graph is saved when the store closes and used at the next open only while it
/// matches the data; a stale or corrupt graph is rebuilt, never used.
#[tokio::test(flavor = "multi_thread")]
async fn saved_vector_graphs_are_reused_only_when_current() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(5);
    let vectors: Vec<Vec<f32>> = (0..400)
        .map(|_| normalize((0..16).map(|_| rng.signed()).collect()))
        .collect();
    let stamp = dir.path().join("graphs/collection-1.stamp");
    let graph = dir.path().join("graphs/collection-1.usearch");
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        create(&store, "g", 16, IndexKind::Hnsw).await;
        let documents = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| single(&format!("d{i}"), &format!("text {i}"), v.clone()))
            .collect();
        store.put_documents("g", documents, None).await.unwrap();
    }
    assert_eq!(std::fs::read_to_string(&stamp).unwrap(), "1 400\n");
    let saved = std::fs::metadata(&graph).unwrap().modified().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let hits = dense(&store, "g", &vectors[7], 1).await;
        assert_eq!(document_ids(&hits), ["d7"]);
        // A write makes the saved graph stale; closing saves the new one.
        store.delete_document("g", "d7").await.unwrap();
    }
    assert_eq!(std::fs::read_to_string(&stamp).unwrap(), "2 399\n");
    assert!(std::fs::metadata(&graph).unwrap().modified().unwrap() >= saved);
    // A torn graph with a matching stamp is detected and rebuilt.
    std::fs::write(&graph, b"not a graph").unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let hits = dense(&store, "g", &vectors[8], 1).await;
    assert_eq!(document_ids(&hits), ["d8"]);
    assert!(
        dense(&store, "g", &vectors[7], 5)
            .await
            .iter()
            .all(|hit| hit.document_id != "d7")
    );
    assert!(store.check_integrity().await.unwrap().is_ok());
    store.delete_collection("g").await.unwrap();
    assert!(!graph.exists() && !stamp.exists());
}

backend_tests!(
    collections_are_created_read_listed_and_deleted,
    a_taken_collection_name_is_refused,
    invalid_collection_specs_are_refused,
    every_method_reports_an_unknown_collection,
    counts_and_version_follow_writes,
    documents_are_stored_and_listed_in_pages,
    putting_a_document_again_replaces_all_its_chunks,
    deleting_a_document_removes_it_everywhere,
    a_source_update_records_its_hash_and_drops_documents_it_no_longer_yields,
    invalid_writes_leave_the_store_unchanged,
    unreadable_stored_json_names_its_collection_and_row,
    kept_counts_follow_puts_replacements_deletes_and_source_updates,
    the_integrity_check_finds_counts_that_drifted,
    answer_settings_change_with_a_new_version_and_nothing_else,
);

/// Answer settings change in place: the spec's other fields, the documents and the counts
/// stay, the version moves (so cached answers go stale), and a bad change changes nothing.
async fn answer_settings_change_with_a_new_version_and_nothing_else(backend: Backend) {
    let store = backend.store().await;
    let mut spec = CollectionSpec::new("hotel", "all-MiniLM-L6-v2", DIM);
    spec.system_prompt = Some("You are the concierge.".into());
    store.create_collection(spec.clone()).await.unwrap();
    store
        .put_documents("hotel", vec![single("d", "lobby", axis(DIM, 0))], None)
        .await
        .unwrap();
    let before = store.collection("hotel").await.unwrap();
    let update: SettingsUpdate = serde_json::from_value(json!({
        "fallback_text": "Reception is happy to help: dial 9.",
        "fallback_texts": {"de": "Die Rezeption hilft gern: Wählen Sie die 9."},
        "system_prompt": null,
        "answerability": {"min_dense": 0.3},
        "question_retention_days": 7,
    }))
    .unwrap();
    let updated = store.update_settings("hotel", &update).await.unwrap();
    assert_eq!(
        updated.spec.fallback_text.as_deref(),
        Some("Reception is happy to help: dial 9.")
    );
    assert_eq!(updated.spec.fallback_texts.len(), 1);
    assert_eq!(updated.spec.system_prompt, None);
    assert_eq!(updated.spec.answerability.min_dense, Some(0.3));
    assert_eq!(updated.spec.question_retention_days, Some(7));
    assert_eq!(
        (
            updated.spec.model.as_str(),
            updated.spec.dim,
            updated.spec.index
        ),
        (spec.model.as_str(), spec.dim, spec.index)
    );
    assert_eq!((updated.documents, updated.chunks), (1, 1));
    assert!(updated.version > before.version);
    assert_eq!(store.collection("hotel").await.unwrap(), updated);
    let stamp = store.version("hotel").await.unwrap();
    assert_eq!(stamp.version, updated.version);
    assert_eq!(keyword(&store, "hotel", "lobby", 5).await.len(), 1);

    // Out of range: refused, and nothing changes.
    let bad: SettingsUpdate =
        serde_json::from_value(json!({"answerability": {"min_meaning_kept": 1.5}})).unwrap();
    let err = store.update_settings("hotel", &bad).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.collection("hotel").await.unwrap(), updated);
    let bad: SettingsUpdate =
        serde_json::from_value(json!({"question_retention_days": 0})).unwrap();
    let err = store.update_settings("hotel", &bad).await.unwrap_err();
    assert!(err.to_string().contains("question_retention_days"), "{err}");
    assert_eq!(store.collection("hotel").await.unwrap(), updated);
    assert!(matches!(
        store.update_settings("nowhere", &update).await,
        Err(StoreError::CollectionNotFound(name)) if name == "nowhere"
    ));
    assert!(store.check_integrity().await.unwrap().is_ok());
}

#[tokio::test]
async fn answer_settings_last_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        create(&store, "hotel", DIM, IndexKind::Exact).await;
        let update: SettingsUpdate =
            serde_json::from_value(json!({"fallback_text": "Dial 9."})).unwrap();
        store.update_settings("hotel", &update).await.unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let info = store.collection("hotel").await.unwrap();
    assert_eq!(info.spec.fallback_text.as_deref(), Some("Dial 9."));
    assert_eq!(info.version, 1);
}

/// Stored JSON that no longer reads back is an error naming the collection and the row,
/// on every path that reads it, and costs nothing else.
async fn unreadable_stored_json_names_its_collection_and_row(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Exact).await;
    let mut spa = single("spa", "the sauna opens at noon", axis(DIM, 0));
    spa.metadata = metadata(json!({"floor": 2}));
    let pool = document(
        "pool",
        vec![
            chunk("the pool is heated", axis(DIM, 1)),
            chunk("towels at the pool", axis(DIM, 2)),
        ],
    );
    store
        .put_documents("hotel", vec![spa, pool], None)
        .await
        .unwrap();
    let (documents, chunks) = match backend {
        Backend::Embedded => ("documents", "chunks"),
        Backend::Postgres => ("bellhop_documents", "bellhop_chunks"),
    };
    // Not JSON at all on SQLite; on PostgreSQL jsonb always parses, so the wrong shape.
    let unreadable = match backend {
        Backend::Embedded => "'{\"floor\": '",
        Backend::Postgres => "'\"not an object\"'",
    };
    store
        .execute_sql(&format!(
            "UPDATE {documents} SET metadata = {unreadable} WHERE external_id = 'spa'"
        ))
        .await;

    let names_spa = |err: StoreError| {
        assert!(
            matches!(
                &err,
                StoreError::Corrupt { collection, row, column: "metadata", .. }
                    if collection == "hotel" && row == "document \"spa\""
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("hotel") && err.to_string().contains("spa"));
    };
    names_spa(store.document("hotel", "spa").await.unwrap_err());
    names_spa(store.list_documents("hotel", 0, 10).await.unwrap_err());
    names_spa(store.export_documents("hotel", None, 10).await.unwrap_err());
    names_spa(
        store
            .search("hotel", &request("sauna", 5, SearchMode::Keyword), None)
            .await
            .unwrap_err(),
    );
    names_spa(
        store
            .search(
                "hotel",
                &request("sauna", 5, SearchMode::Dense),
                Some(&axis(DIM, 0)),
            )
            .await
            .unwrap_err(),
    );

    // The other document reads as it did.
    assert_eq!(store.document("hotel", "pool").await.unwrap().chunks, 2);
    let hits = keyword(&store, "hotel", "heated", 5).await;
    assert_eq!(document_ids(&hits), ["pool"]);
    assert_eq!(
        document_ids(&dense(&store, "hotel", &axis(DIM, 1), 1).await),
        ["pool"]
    );
    let page = store.export_documents("hotel", None, 1).await.unwrap();
    assert_eq!(page[0].id, "pool");

    // A chunk's section is named by the chunk and its document.
    let towels = keyword(&store, "hotel", "towels", 1).await[0].chunk_id;
    let unreadable = match backend {
        Backend::Embedded => "'[\"Spa\"'",
        Backend::Postgres => "'{\"Spa\": 1}'",
    };
    store
        .execute_sql(&format!(
            "UPDATE {chunks} SET section = {unreadable} WHERE id = {towels}"
        ))
        .await;
    let err = store
        .search("hotel", &request("towels", 5, SearchMode::Keyword), None)
        .await
        .unwrap_err();
    let expected_row = format!("chunk {towels} of document \"pool\"");
    assert!(
        matches!(
            &err,
            StoreError::Corrupt { collection, row, column: "section", .. }
                if collection == "hotel" && *row == expected_row
        ),
        "{err:?}"
    );
    let hits = keyword(&store, "hotel", "heated", 1).await;
    assert_eq!(hits[0].text, "the pool is heated");
}

/// The counts a collection reports, and what its documents add up to.
async fn counts(store: &TestStore) -> ((u64, u64), (u64, u64)) {
    let info = store.collection("hotel").await.unwrap();
    let documents = store.list_documents("hotel", 0, 100).await.unwrap();
    let listed = store.list_collections().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&info));
    assert!(store.check_integrity().await.unwrap().is_ok());
    (
        (info.documents, info.chunks),
        (
            documents.len() as u64,
            documents.iter().map(|document| document.chunks).sum(),
        ),
    )
}

async fn kept_counts_follow_puts_replacements_deletes_and_source_updates(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let from = |source: &str, id: &str, chunks: usize| {
        let mut document = document(
            id,
            (0..chunks)
                .map(|i| chunk(format!("{id} part {i}"), axis(DIM, i % DIM)))
                .collect(),
        );
        document.source = source.to_string();
        document
    };
    let update = |hash: &str| {
        Some(SourceUpdate {
            name: "menu.md".into(),
            content_hash: hash.into(),
        })
    };
    store
        .put_documents(
            "hotel",
            vec![
                from("menu.md", "a", 2),
                from("menu.md", "b", 1),
                from("menu.md", "c", 3),
            ],
            update("1"),
        )
        .await
        .unwrap();
    store
        .put_documents("hotel", vec![from("spa.md", "spa", 2)], None)
        .await
        .unwrap();
    assert_eq!(counts(&store).await, ((4, 8), (4, 8)));

    // Replacing a document counts its new chunks, not its old ones.
    store
        .put_documents("hotel", vec![from("menu.md", "a", 1)], None)
        .await
        .unwrap();
    assert_eq!(counts(&store).await, ((4, 7), (4, 7)));

    store.delete_document("hotel", "b").await.unwrap();
    assert_eq!(counts(&store).await, ((3, 6), (3, 6)));
    assert!(store.delete_document("hotel", "b").await.is_err());
    assert_eq!(counts(&store).await, ((3, 6), (3, 6)));

    // A source update that no longer yields `a` and `c` removes them, and rewrites `d`.
    let receipt = store
        .put_documents("hotel", vec![from("menu.md", "d", 4)], update("2"))
        .await
        .unwrap();
    assert_eq!(receipt.removed, 2);
    assert_eq!(counts(&store).await, ((2, 6), (2, 6)));
    store
        .put_documents("hotel", vec![from("menu.md", "d", 2)], update("3"))
        .await
        .unwrap();
    assert_eq!(counts(&store).await, ((2, 4), (2, 4)));
    store
        .put_documents("hotel", vec![], update("4"))
        .await
        .unwrap();
    assert_eq!(counts(&store).await, ((1, 2), (1, 2)));

    // A refused write moves nothing.
    let mut bad = from("menu.md", "e", 1);
    bad.chunks[0].vector = vec![1.0; DIM + 1];
    assert!(store.put_documents("hotel", vec![bad], None).await.is_err());
    assert_eq!(counts(&store).await, ((1, 2), (1, 2)));
}

async fn the_integrity_check_finds_counts_that_drifted(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    store
        .put_documents("hotel", vec![single("a", "lobby", axis(DIM, 0))], None)
        .await
        .unwrap();
    let collections = match backend {
        Backend::Embedded => "collections",
        Backend::Postgres => "bellhop_collections",
    };
    store
        .execute_sql(&format!(
            "UPDATE {collections} SET document_count = 5, chunk_count = 0"
        ))
        .await;
    let report = store.check_integrity().await.unwrap();
    assert_eq!(
        report.problems,
        [
            "hotel: counts 5 documents where there are 1",
            "hotel: counts 0 chunks where there are 1"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_written_before_kept_counts_gets_them_at_open() {
    let (dir, store) = temp_store();
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let documents = vec![
        document(
            "a",
            vec![chunk("one", axis(DIM, 0)), chunk("two", axis(DIM, 1))],
        ),
        single("b", "three", axis(DIM, 2)),
    ];
    store.put_documents("hotel", documents, None).await.unwrap();
    let path = store.path().to_path_buf();
    drop(store);
    // The schema before the counts (and the question log that came after them) existed.
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "DROP TABLE answers;
             ALTER TABLE collections DROP COLUMN document_count;
             ALTER TABLE collections DROP COLUMN chunk_count;
             PRAGMA user_version = 1;",
        )
        .unwrap();
    drop(connection);
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks), (2, 3));
    assert!(store.check_integrity().await.unwrap().is_ok());
    store.delete_document("hotel", "a").await.unwrap();
    let info = store.collection("hotel").await.unwrap();
    assert_eq!((info.documents, info.chunks), (1, 1));
}
