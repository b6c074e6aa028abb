//! Dense, keyword and hybrid search with metadata filters against both real backends (embedded and PostgreSQL),
//! on hand-made 8-d vectors whose nearest neighbours are obvious and on random ones.

use std::collections::HashSet;

use crate::common::{Backend, TestStore};
use crate::common::{
    Rng, axis, chunk, cosine, create, dense, document, document_ids, document_set, filter, keyword,
    metadata, normalize, request, single,
};
use bellhop_store::{
    IndexKind, KEYWORD_FUSION_WEIGHT, NewDocument, Retriever, SearchMode, SearchRequest, Store,
    StoreError,
};
use serde_json::json;

const DIM: usize = 8;

/// Six one-chunk documents: "a0" lies on axis 0, "a0b1" between axes 0 and 1, and so on.
async fn geometry_store(backend: Backend) -> (TestStore, Vec<(&'static str, Vec<f32>)>) {
    let store = backend.store().await;
    create(&store, "geo", DIM, IndexKind::Auto).await;
    let vectors = vec![
        ("a0", axis(DIM, 0)),
        (
            "a0b1",
            normalize(vec![0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        ),
        (
            "a0c1",
            normalize(vec![0.7, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
        ),
        ("a1", axis(DIM, 1)),
        ("a2", axis(DIM, 2)),
        (
            "neg0",
            normalize(vec![-1.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]),
        ),
    ];
    let documents = vectors
        .iter()
        .map(|(id, vector)| single(id, &format!("point {id}"), vector.clone()))
        .collect();
    store.put_documents("geo", documents, None).await.unwrap();
    (store, vectors)
}

async fn dense_search_ranks_by_cosine(backend: Backend) {
    let (store, vectors) = geometry_store(backend).await;
    // An unnormalised query: the store scores by cosine, whatever the length.
    let query = vec![2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let hits = dense(&store, "geo", &query, 10).await;
    assert_eq!(
        document_ids(&hits),
        ["a0", "a0b1", "a0c1", "a1", "a2", "neg0"]
    );
    for (rank, hit) in hits.iter().enumerate() {
        let vector = &vectors
            .iter()
            .find(|(id, _)| *id == hit.document_id)
            .unwrap()
            .1;
        assert!((hit.score - cosine(&query, vector)).abs() < 1e-5, "{hit:?}");
        assert_eq!(hit.found_by.len(), 1);
        assert_eq!(hit.found_by[0].retriever, Retriever::Dense);
        assert_eq!(hit.found_by[0].rank, rank + 1);
        assert_eq!(hit.found_by[0].score, hit.score);
        assert_eq!(hit.text, format!("point {}", hit.document_id));
        assert_eq!(hit.title, format!("Title of {}", hit.document_id));
        assert_eq!(hit.source, "test.md");
    }
    assert!(hits.windows(2).all(|pair| pair[0].score >= pair[1].score));
    assert!(hits[5].score < 0.0);

    assert_eq!(
        document_ids(&dense(&store, "geo", &axis(DIM, 1), 2).await),
        ["a1", "a0c1"]
    );
    assert_eq!(
        document_ids(&dense(&store, "geo", &axis(DIM, 2), 1).await),
        ["a2"]
    );
}

async fn min_score_drops_weaker_hits(backend: Backend) {
    let (store, _) = geometry_store(backend).await;
    let mut search = request("dense", 10, SearchMode::Dense);
    search = search.with_min_score(Some(0.9)).unwrap();
    let hits = store
        .search("geo", &search, Some(&axis(DIM, 0)))
        .await
        .unwrap();
    assert_eq!(document_ids(&hits), ["a0", "a0b1", "a0c1"]);
    assert!(hits.iter().all(|hit| hit.score >= 0.9));

    search = search.with_min_score(Some(1.5)).unwrap();
    assert!(
        store
            .search("geo", &search, Some(&axis(DIM, 0)))
            .await
            .unwrap()
            .is_empty()
    );

    let mut search = request("point a2", 10, SearchMode::Keyword);
    let all = store.search("geo", &search, None).await.unwrap();
    assert_eq!(all[0].document_id, "a2");
    search = search.with_min_score(Some(all[0].score - 1e-3)).unwrap();
    let best = store.search("geo", &search, None).await.unwrap();
    assert_eq!(document_ids(&best), ["a2"]);
}

async fn search_requests_are_validated(backend: Backend) {
    let (store, _) = geometry_store(backend).await;
    let vector = axis(DIM, 0);
    // A search is checked when it is built, so no backend ever sees a bad one.
    for k in [0, 1001] {
        let err = SearchRequest::new("point", k).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "k={k}: {err:?}");
    }
    assert_eq!(
        store
            .search(
                "geo",
                &request("point", 1000, SearchMode::Hybrid),
                Some(&vector)
            )
            .await
            .unwrap()
            .len(),
        6
    );
    for mode in [SearchMode::Dense, SearchMode::Hybrid] {
        let err = store
            .search("geo", &request("point", 5, mode), None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{mode:?}: {err:?}");
        let err = store
            .search("geo", &request("point", 5, mode), Some(&[1.0; DIM + 1]))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{mode:?}: {err:?}");
    }
    let err = SearchRequest::new("   ", 5).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    // Keyword search needs no vector, and ignores one given.
    let hits = keyword(&store, "geo", "a1", 5).await;
    assert_eq!(document_ids(&hits), ["a1"]);
    let with_vector = store
        .search("geo", &request("a1", 5, SearchMode::Keyword), Some(&vector))
        .await
        .unwrap();
    assert_eq!(with_vector, hits);
}

/// A small hotel collection for keyword search.
async fn hotel_store(backend: Backend) -> TestStore {
    let store = backend.store().await;
    create(&store, "hotel", DIM, IndexKind::Auto).await;
    let documents = vec![
        single(
            "pool",
            "The heated pool opens at seven in the morning.",
            axis(DIM, 0),
        ),
        single(
            "winter",
            "Heating runs in every room during winter.",
            axis(DIM, 1),
        ),
        single(
            "sauna",
            "We heat the sauna on request; ask the front desk.",
            axis(DIM, 2),
        ),
        single(
            "breakfast",
            "Breakfast is served in the garden room.",
            axis(DIM, 3),
        ),
        single(
            "near",
            "The beach is near: a five minute walk (or a short ride).",
            axis(DIM, 4),
        ),
    ];
    store.put_documents("hotel", documents, None).await.unwrap();
    store
}

async fn keyword_search_stems_words_and_ranks_by_bm25(backend: Backend) {
    let store = hotel_store(backend).await;
    let hits = keyword(&store, "hotel", "heated", 10).await;
    assert_eq!(document_set(&hits), ["pool", "sauna", "winter"]);
    assert!(hits.iter().all(|hit| hit.score > 0.0));
    assert!(hits.windows(2).all(|pair| pair[0].score >= pair[1].score));
    for (rank, hit) in hits.iter().enumerate() {
        assert_eq!(hit.found_by.len(), 1);
        assert_eq!(hit.found_by[0].retriever, Retriever::Keyword);
        assert_eq!(hit.found_by[0].rank, rank + 1);
        assert_eq!(hit.score, hit.found_by[0].score);
    }
    // Case and inflection do not matter; rarer matches rank first.
    assert_eq!(
        document_set(&keyword(&store, "hotel", "HEATING", 10).await),
        ["pool", "sauna", "winter"]
    );
    assert_eq!(
        document_ids(&keyword(&store, "hotel", "heated pool", 10).await)[0],
        "pool"
    );
    assert_eq!(
        document_ids(&keyword(&store, "hotel", "breakfasts served", 10).await),
        ["breakfast"]
    );
    assert!(keyword(&store, "hotel", "helicopter", 10).await.is_empty());
    assert_eq!(keyword(&store, "hotel", "heat", 2).await.len(), 2);
    // Titles are searchable too.
    assert_eq!(
        document_ids(&keyword(&store, "hotel", "title", 10).await).len(),
        5
    );
}

async fn a_word_in_most_chunks_does_not_make_them_all_keyword_hits(backend: Backend) {
    let store = hotel_store(backend).await;
    // "the" is in four of the five chunks and "in" in three: they weigh nothing in the
    // ranking, and the hits are the chunks that hold the question's other words.
    assert_eq!(
        document_set(&keyword(&store, "hotel", "the sauna", 10).await),
        ["sauna"]
    );
    assert_eq!(
        document_set(&keyword(&store, "hotel", "the breakfast in the garden", 10).await),
        ["breakfast"]
    );
    // Alone, such a word still finds what holds it ("heat", in three of the five).
    assert_eq!(keyword(&store, "hotel", "heat", 10).await.len(), 3);
}

async fn keyword_queries_with_search_syntax_are_plain_words(backend: Backend) {
    let store = hotel_store(backend).await;
    for query in [
        "\"pool\" OR (",
        "pool NEAR",
        "NEAR(pool sauna)",
        "pool AND",
        "NOT pool",
        "pool*",
        "-pool",
        "pool:",
        "^pool",
        "body: pool",
        "{heading body}: pool",
        "\"pool",
        "pool'); DROP TABLE chunks; --",
        "pool + - ~ @ # $ % & |",
        "naïve café pool",
    ] {
        let hits = store
            .search("hotel", &request(query, 10, SearchMode::Keyword), None)
            .await
            .unwrap_or_else(|err| panic!("{query:?}: {err}"));
        assert!(
            document_ids(&hits).contains(&"pool".to_string()),
            "{query:?}: {hits:?}"
        );
        store
            .search(
                "hotel",
                &request(query, 10, SearchMode::Hybrid),
                Some(&axis(DIM, 0)),
            )
            .await
            .unwrap_or_else(|err| panic!("hybrid {query:?}: {err}"));
    }
    // The word "near" is an ordinary word.
    assert_eq!(
        document_ids(&keyword(&store, "hotel", "NEAR", 10).await),
        ["near"]
    );
    for query in ["?!", "\"\"", "( )", "*", "--"] {
        let hits = store
            .search("hotel", &request(query, 10, SearchMode::Keyword), None)
            .await
            .unwrap_or_else(|err| panic!("{query:?}: {err}"));
        assert!(hits.is_empty(), "{query:?}: {hits:?}");
    }
    assert!(store.check_integrity().await.unwrap().is_ok());
}

async fn hybrid_search_fuses_both_retrievers(backend: Backend) {
    let store = hotel_store(backend).await;
    // The vector points at "breakfast" (axis 3) and a little at "pool" (axis 0); the words
    // match "pool", "winter" and "sauna".
    let vector = normalize(vec![0.3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    let hits = store
        .search(
            "hotel",
            &request("heated pool", 10, SearchMode::Hybrid),
            Some(&vector),
        )
        .await
        .unwrap();
    assert_eq!(hits.len(), 5, "dense contributes every chunk");
    assert_eq!(hits[0].document_id, "pool", "found by both: {hits:#?}");
    let pool = &hits[0];
    let retrievers: Vec<Retriever> = pool.found_by.iter().map(|m| m.retriever).collect();
    assert_eq!(retrievers, [Retriever::Dense, Retriever::Keyword]);
    let dense_match = pool.found_by[0];
    let keyword_match = pool.found_by[1];
    assert_eq!((dense_match.rank, keyword_match.rank), (2, 1));
    assert!((dense_match.score - cosine(&vector, &axis(DIM, 0))).abs() < 1e-5);
    assert!(keyword_match.score > 0.0);
    let expected = 1.0 / 62.0 + KEYWORD_FUSION_WEIGHT / 61.0;
    assert!((pool.score - expected).abs() < 1e-6, "{}", pool.score);

    let breakfast = hits
        .iter()
        .find(|hit| hit.document_id == "breakfast")
        .unwrap();
    assert_eq!(breakfast.found_by.len(), 1);
    assert_eq!(breakfast.found_by[0].retriever, Retriever::Dense);
    assert_eq!(breakfast.found_by[0].rank, 1);
    assert!((breakfast.score - 1.0 / 61.0).abs() < 1e-6);
    assert!(hits.windows(2).all(|pair| pair[0].score >= pair[1].score));
    for hit in &hits {
        let expected: f32 = hit
            .found_by
            .iter()
            .map(|m| {
                let weight = match m.retriever {
                    Retriever::Dense => 1.0,
                    Retriever::Keyword => KEYWORD_FUSION_WEIGHT,
                };
                weight / (60.0 + m.rank as f32)
            })
            .sum();
        assert!((hit.score - expected).abs() < 1e-6, "{hit:?}");
    }

    // No hit found by one retriever scores above 1/61, and every hit found by both does.
    let mut strict = request("heated pool", 10, SearchMode::Hybrid);
    strict = strict.with_min_score(Some(1.0 / 61.0 + 1e-5)).unwrap();
    let hits = store.search("hotel", &strict, Some(&vector)).await.unwrap();
    // Dense finds every chunk, so those found by both are the keyword hits.
    let keyword_hits = keyword(&store, "hotel", "heated pool", 10).await;
    assert_eq!(document_set(&hits), document_set(&keyword_hits));
    assert!(hits.iter().all(|hit| hit.found_by.len() == 2), "{hits:#?}");

    let top = store
        .search(
            "hotel",
            &request("heated pool", 1, SearchMode::Hybrid),
            Some(&vector),
        )
        .await
        .unwrap();
    assert_eq!(document_ids(&top), ["pool"]);
}

/// A menu whose metadata exercises every filter operator.
async fn menu_store(backend: Backend) -> TestStore {
    let store = backend.store().await;
    create(&store, "menu", DIM, IndexKind::Auto).await;
    let dish = |id: &str, source: &str, axis_index: usize, meta| -> NewDocument {
        let mut doc = single(id, &format!("A dish called {id}"), axis(DIM, axis_index));
        doc.source = source.to_string();
        doc.metadata = metadata(meta);
        doc
    };
    let documents = vec![
        dish(
            "salad",
            "menu.md",
            0,
            json!({"category": "Lunch", "price": 9, "vegan": true,
                   "allergens": ["nuts"], "tags": ["vegan", "gluten-free"]}),
        ),
        dish(
            "burger",
            "menu.md",
            1,
            json!({"category": "Lunch", "price": 14, "vegan": false, "spicy": 1,
                   "allergens": ["dairy", "gluten"], "tags": ["popular"]}),
        ),
        dish(
            "cake",
            "menu.md",
            2,
            json!({"category": "Dessert", "price": 9.5, "vegan": false,
                   "allergens": ["nuts", "dairy"], "tags": ["sweet", "popular"]}),
        ),
        dish(
            "soup",
            "specials.md",
            3,
            json!({"category": "Dinner", "price": 7, "vegan": true, "spicy": true,
                   "tags": ["vegan", "gluten-free", "popular"]}),
        ),
        dish(
            "fries",
            "specials.md",
            4,
            json!({"category": "Lunch", "price": 4.5, "vegan": true,
                   "allergens": [], "tags": ["vegan"]}),
        ),
    ];
    store.put_documents("menu", documents, None).await.unwrap();
    store
}

async fn filters_select_the_same_documents_in_every_mode(backend: Backend) {
    let store = menu_store(backend).await;
    let cases = [
        (
            json!({"category": "Lunch"}),
            vec!["burger", "fries", "salad"],
        ),
        (json!({"category": {"eq": "Dessert"}}), vec!["cake"]),
        (json!({"price": 9}), vec!["salad"]),
        (json!({"price": 9.5}), vec!["cake"]),
        (json!({"price": 9.0}), vec!["salad"]),
        (json!({"price": "9"}), vec![]),
        (json!({"vegan": true}), vec!["fries", "salad", "soup"]),
        (json!({"vegan": false}), vec!["burger", "cake"]),
        // Booleans and numbers never compare equal.
        (json!({"spicy": true}), vec!["soup"]),
        (json!({"spicy": 1}), vec!["burger"]),
        (
            json!({"spicy": {"ne": true}}),
            vec!["burger", "cake", "fries", "salad"],
        ),
        (json!({"category": {"ne": "Lunch"}}), vec!["cake", "soup"]),
        (
            json!({"category": {"in": ["Dessert", "Dinner"]}}),
            vec!["cake", "soup"],
        ),
        (
            json!({"category": {"not_in": ["Lunch", "Dinner"]}}),
            vec!["cake"],
        ),
        (json!({"allergens": "nuts"}), vec!["cake", "salad"]),
        (
            json!({"allergens": {"none": ["nuts"]}}),
            vec!["burger", "fries", "soup"],
        ),
        (
            json!({"allergens": {"ne": "nuts"}}),
            vec!["burger", "fries", "soup"],
        ),
        (
            json!({"allergens": {"not_in": ["nuts", "dairy"]}}),
            vec!["fries", "soup"],
        ),
        (
            json!({"allergens": {"in": ["gluten", "dairy"]}}),
            vec!["burger", "cake"],
        ),
        (
            json!({"tags": {"any": ["sweet", "gluten-free"]}}),
            vec!["cake", "salad", "soup"],
        ),
        (
            json!({"tags": {"all": ["vegan", "gluten-free"]}}),
            vec!["salad", "soup"],
        ),
        (
            json!({"tags": {"all": ["vegan", "gluten-free", "popular"]}}),
            vec!["soup"],
        ),
        (json!({"price": {"gt": 9}}), vec!["burger", "cake"]),
        (
            json!({"price": {"gte": 9}}),
            vec!["burger", "cake", "salad"],
        ),
        (
            json!({"price": {"lt": 9.5}}),
            vec!["fries", "salad", "soup"],
        ),
        (
            json!({"price": {"lte": 9.5}}),
            vec!["cake", "fries", "salad", "soup"],
        ),
        (
            json!({"price": {"gt": 4.5, "lte": 9.5}}),
            vec!["cake", "salad", "soup"],
        ),
        (json!({"price": {"gte": 9, "lte": 9}}), vec!["salad"]),
        (json!({"price": {"gt": 9, "lt": 10}}), vec!["cake"]),
        (json!({"category": {"gt": 1}}), vec![]),
        (json!({"document_id": "cake"}), vec!["cake"]),
        (
            json!({"document_id": {"in": ["cake", "soup", "nothing"]}}),
            vec!["cake", "soup"],
        ),
        (
            json!({"document_id": {"ne": "cake"}}),
            vec!["burger", "fries", "salad", "soup"],
        ),
        (
            json!({"document_id": {"not_in": ["cake", "soup"]}}),
            vec!["burger", "fries", "salad"],
        ),
        (json!({"document_id": {"all": ["cake"]}}), vec!["cake"]),
        (json!({"document_id": {"all": ["cake", "soup"]}}), vec![]),
        (json!({"source": "specials.md"}), vec!["fries", "soup"]),
        (
            json!({"source": {"any": ["specials.md"]}}),
            vec!["fries", "soup"],
        ),
        (
            json!({"source": {"ne": "specials.md"}}),
            vec!["burger", "cake", "salad"],
        ),
        (
            json!({"category": "Lunch", "vegan": true, "allergens": {"none": ["nuts"]}}),
            vec!["fries"],
        ),
        (
            json!({"tags": {"all": ["vegan"]}, "price": {"lt": 5}}),
            vec!["fries"],
        ),
        (json!({"missing": "x"}), vec![]),
        (
            json!({"missing": {"ne": "x"}}),
            vec!["burger", "cake", "fries", "salad", "soup"],
        ),
        (
            json!({"source": "specials.md", "document_id": "cake"}),
            vec![],
        ),
    ];
    let vector = normalize(vec![1.0; DIM]);
    for (json, expected) in cases {
        for mode in [SearchMode::Dense, SearchMode::Keyword, SearchMode::Hybrid] {
            let search = request("dish", 10, mode).with_filter(filter(json.clone()));
            let hits = store
                .search("menu", &search, Some(&vector))
                .await
                .unwrap_or_else(|err| panic!("{json} {mode:?}: {err}"));
            assert_eq!(document_set(&hits), expected, "{json} in {mode:?}");
        }
    }
}

async fn filters_keep_the_ranking_of_what_they_let_through(backend: Backend) {
    let store = menu_store(backend).await;
    let vector = normalize(vec![0.1, 0.2, 1.0, 0.3, 0.0, 0.0, 0.0, 0.0]);
    let search =
        request("dish", 2, SearchMode::Dense).with_filter(filter(json!({"price": {"lt": 10}})));
    let hits = store.search("menu", &search, Some(&vector)).await.unwrap();
    assert_eq!(document_ids(&hits), ["cake", "soup"]);
    let search = search.with_filter(filter(json!({"category": "Lunch"})));
    let hits = store.search("menu", &search, Some(&vector)).await.unwrap();
    assert_eq!(document_ids(&hits), ["burger", "salad"]);
    let malformed = bellhop_store::Filter::from_json(&json!({"price": {"near": 3}}));
    assert!(matches!(malformed, Err(StoreError::InvalidFilter(_))));
}

/// 2000 one-chunk documents of random 32-d vectors in groups by `i % 40` and `i % 10`.
fn grouped_documents(count: usize, dim: usize, seed: u64) -> Vec<NewDocument> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let mut doc = single(&format!("d{i:05}"), "grouped entry", rng.unit_vector(dim));
            doc.metadata = metadata(json!({"rare": i % 40 == 0, "tenth": i % 10 == 0}));
            doc
        })
        .collect()
}

async fn filtered_search_returns_k(backend: Backend, kind: IndexKind) {
    const GROUPED_DIM: usize = 32;
    let store = backend.store().await;
    create(&store, "grouped", GROUPED_DIM, kind).await;
    let documents = grouped_documents(2000, GROUPED_DIM, 5);
    store
        .put_documents("grouped", documents.clone(), None)
        .await
        .unwrap();
    assert_eq!(store.collection("grouped").await.unwrap().chunks, 2000);

    let mut rng = Rng::new(99);
    let (mut found, mut asked) = (0, 0);
    for round in 0..10 {
        let query = rng.unit_vector(GROUPED_DIM);
        // "rare" matches 2.5% of the chunks, "tenth" 10%.
        for (key, matching) in [("rare", 50), ("tenth", 200)] {
            let wanted = filter(json!({key: true}));
            let mut truth: Vec<(f32, &str)> = documents
                .iter()
                .filter(|doc| doc.metadata[key] == json!(true))
                .map(|doc| (cosine(&query, &doc.chunks[0].vector), doc.id.as_str()))
                .collect();
            assert_eq!(truth.len(), matching);
            truth.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut truth: Vec<String> = truth.iter().take(10).map(|t| t.1.to_string()).collect();
            truth.sort();

            let search =
                request("grouped entry", 10, SearchMode::Dense).with_filter(wanted.clone());
            let hits = store
                .search("grouped", &search, Some(&query))
                .await
                .unwrap();
            assert_eq!(hits.len(), 10, "{kind:?} {key} round {round}");
            assert!(hits.iter().all(|hit| hit.metadata[key] == json!(true)));
            found += hits
                .iter()
                .filter(|hit| truth.contains(&hit.document_id))
                .count();
            asked += 10;
            if kind == IndexKind::Exact {
                assert_eq!(document_set(&hits), truth, "an exact scan is exact");
            }
            for mode in [SearchMode::Keyword, SearchMode::Hybrid] {
                let search = request("grouped entry", 10, mode).with_filter(wanted.clone());
                let hits = store
                    .search("grouped", &search, Some(&query))
                    .await
                    .unwrap();
                assert_eq!(hits.len(), 10, "{kind:?} {mode:?} {key}");
                assert!(hits.iter().all(|hit| hit.metadata[key] == json!(true)));
            }
        }
    }
    let recall = found as f64 / asked as f64;
    assert!(recall >= 0.9, "{kind:?}: filtered recall {recall}");
}

async fn a_selective_filter_still_yields_k_hits_on_an_exact_collection(backend: Backend) {
    filtered_search_returns_k(backend, IndexKind::Exact).await;
}

async fn a_selective_filter_still_yields_k_hits_on_an_hnsw_collection(backend: Backend) {
    filtered_search_returns_k(backend, IndexKind::Hnsw).await;
}

async fn hnsw_agrees_with_an_exact_scan_and_forgets_deleted_documents(backend: Backend) {
    const HNSW_DIM: usize = 32;
    let store = backend.store().await;
    create(&store, "exact", HNSW_DIM, IndexKind::Exact).await;
    let info = create(&store, "hnsw", HNSW_DIM, IndexKind::Hnsw).await;
    assert_eq!(info.active_index, bellhop_store::ActiveIndex::Hnsw);
    let mut rng = Rng::new(2024);
    let documents: Vec<NewDocument> = (0..3000)
        .map(|i| single(&format!("v{i:05}"), "vector", rng.unit_vector(HNSW_DIM)))
        .collect();
    for name in ["exact", "hnsw"] {
        // Several writes, so the graph grows after it is first built.
        for batch in documents.chunks(1000) {
            store
                .put_documents(name, batch.to_vec(), None)
                .await
                .unwrap();
        }
    }
    assert_eq!(
        store.collection("hnsw").await.unwrap().active_index,
        bellhop_store::ActiveIndex::Hnsw
    );
    let queries: Vec<Vec<f32>> = (0..30).map(|_| rng.unit_vector(HNSW_DIM)).collect();

    let overlap = |exact: &[bellhop_store::Hit], hnsw: &[bellhop_store::Hit]| {
        let truth: HashSet<&str> = exact.iter().map(|h| h.document_id.as_str()).collect();
        hnsw.iter()
            .filter(|h| truth.contains(h.document_id.as_str()))
            .count()
    };
    let mut found = 0;
    let mut deleted = Vec::new();
    for query in &queries {
        let exact = dense(&store, "exact", query, 10).await;
        let hnsw = dense(&store, "hnsw", query, 10).await;
        assert_eq!(hnsw.len(), 10);
        assert!(hnsw.windows(2).all(|pair| pair[0].score >= pair[1].score));
        for hit in &hnsw {
            let vector = &documents
                .iter()
                .find(|doc| doc.id == hit.document_id)
                .unwrap()
                .chunks[0]
                .vector;
            assert!((hit.score - cosine(query, vector)).abs() < 1e-4, "{hit:?}");
        }
        found += overlap(&exact, &hnsw);
        deleted.push(exact[0].document_id.clone());
        deleted.push(exact[1].document_id.clone());
    }
    let recall = found as f64 / 300.0;
    assert!(recall >= 0.95, "recall@10 {recall}");

    deleted.sort();
    deleted.dedup();
    for id in &deleted {
        for name in ["exact", "hnsw"] {
            store.delete_document(name, id).await.unwrap();
        }
    }
    let mut found = 0;
    for query in &queries {
        let exact = dense(&store, "exact", query, 10).await;
        let hnsw = dense(&store, "hnsw", query, 10).await;
        assert_eq!(hnsw.len(), 10);
        for hit in &hnsw {
            assert!(!deleted.contains(&hit.document_id), "deleted {hit:?}");
        }
        found += overlap(&exact, &hnsw);
    }
    let recall = found as f64 / 300.0;
    assert!(recall >= 0.95, "recall@10 after deletes {recall}");
    assert_eq!(
        store.collection("hnsw").await.unwrap().chunks,
        3000 - deleted.len() as u64
    );
    assert!(store.check_integrity().await.unwrap().is_ok());
}

async fn hnsw_stays_correct_when_documents_are_rewritten_many_times(backend: Backend) {
    const HNSW_DIM: usize = 16;
    let store = backend.store().await;
    create(&store, "churn", HNSW_DIM, IndexKind::Hnsw).await;
    let mut rng = Rng::new(7);
    let mut current: Vec<Vec<f32>> = (0..200).map(|_| rng.unit_vector(HNSW_DIM)).collect();
    let write = |ids: Vec<usize>, current: &[Vec<f32>]| -> Vec<NewDocument> {
        ids.into_iter()
            .map(|i| {
                document(
                    &format!("r{i:03}"),
                    vec![
                        chunk(format!("row {i} first"), current[i].clone()),
                        chunk(
                            format!("row {i} second"),
                            current[i].iter().map(|x| -x).collect(),
                        ),
                    ],
                )
            })
            .collect()
    };
    store
        .put_documents("churn", write((0..200).collect(), &current), None)
        .await
        .unwrap();
    // 50 rounds each rewriting 40 documents with new vectors: removes and re-adds 4000
    // graph nodes in all, far more than the collection holds at any time.
    for _ in 0..50 {
        let ids: Vec<usize> = (0..40)
            .map(|_| rng.below(200) as usize)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for &i in &ids {
            current[i] = rng.unit_vector(HNSW_DIM);
        }
        store
            .put_documents("churn", write(ids, &current), None)
            .await
            .unwrap();
    }
    let info = store.collection("churn").await.unwrap();
    assert_eq!((info.documents, info.chunks), (200, 400));
    assert!(store.check_integrity().await.unwrap().is_ok());
    // The index is approximate, and its graph is built by several threads, so which node
    // a search reaches first may vary from run to run: every vector must be among its own ten
    // nearest, and first for all but one in a hundred. A graph that churn had broken apart
    // would lose far more.
    let mut not_first = Vec::new();
    for (i, vector) in current.iter().enumerate() {
        let hits = dense(&store, "churn", vector, 10).await;
        let own = hits
            .iter()
            .position(|hit| {
                hit.document_id == format!("r{i:03}") && hit.text == format!("row {i} first")
            })
            .unwrap_or_else(|| panic!("row {i} not among its ten nearest: {hits:?}"));
        assert!((hits[own].score - 1.0).abs() < 1e-4);
        if own > 0 {
            not_first.push(i);
        }
    }
    assert!(not_first.len() <= 2, "not found first: {not_first:?}");
    assert_eq!(dense(&store, "churn", &current[0], 400).await.len(), 400);
}

backend_tests!(
    dense_search_ranks_by_cosine,
    min_score_drops_weaker_hits,
    search_requests_are_validated,
    a_word_in_most_chunks_does_not_make_them_all_keyword_hits,
    keyword_search_stems_words_and_ranks_by_bm25,
    keyword_queries_with_search_syntax_are_plain_words,
    hybrid_search_fuses_both_retrievers,
    filters_select_the_same_documents_in_every_mode,
    filters_keep_the_ranking_of_what_they_let_through,
    a_selective_filter_still_yields_k_hits_on_an_exact_collection,
    a_selective_filter_still_yields_k_hits_on_an_hnsw_collection,
    hnsw_agrees_with_an_exact_scan_and_forgets_deleted_documents,
    hnsw_stays_correct_when_documents_are_rewritten_many_times,
);
