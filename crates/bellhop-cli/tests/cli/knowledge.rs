//! `bellhop ingest`, `search` and `eval` driven as real processes on the demo hotel.

use std::path::Path;

use serde_json::Value;

use crate::common::{bellhop, repo, stdout};

fn eval(dataset: &Path, data_dir: &Path) -> Value {
    let output = bellhop(
        &["eval", "--json", "--dataset", dataset.to_str().unwrap()],
        data_dir,
    );
    serde_json::from_str(&stdout(&output)).unwrap()
}

fn search(data_dir: &Path, query: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["search", query, "--collection", "demo-hotel", "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&stdout(&bellhop(&args, data_dir))).unwrap()
}

#[test]
fn demo_hotel_ingests_resumes_and_answers_guest_questions() {
    let data = tempfile::tempdir().unwrap();
    let demo = repo().join("examples/demo-hotel");
    let demo = demo.to_str().unwrap();
    let first = stdout(&bellhop(
        &["ingest", demo, "--collection", "demo-hotel"],
        data.path(),
    ));
    assert!(
        first.contains("files ingested") && first.contains("0 failed"),
        "{first}"
    );
    let again = stdout(&bellhop(
        &["ingest", demo, "--collection", "demo-hotel", "--json"],
        data.path(),
    ));
    let report: Value = serde_json::from_str(&again).unwrap();
    let files = report["files"].as_array().unwrap();
    assert!(files.len() >= 30, "{} files", files.len());
    assert!(
        files.iter().all(|file| file["status"] == "unchanged"),
        "{again}"
    );

    let hits = search(data.path(), "is the pool heated?", &["-k", "3"]);
    assert!(
        hits[0]["text"].as_str().unwrap().contains("28 °C"),
        "{:#}",
        hits[0]
    );
    for mode in ["dense", "keyword"] {
        let hits = search(
            data.path(),
            "is the pool heated?",
            &["-k", "3", "--mode", mode],
        );
        assert!(
            hits.iter()
                .any(|hit| hit["text"].as_str().unwrap().contains("28 °C")),
            "{mode}"
        );
        assert!(
            hits.iter()
                .all(|hit| hit["found_by"][0]["retriever"] == mode)
        );
    }

    // Room service without nuts, under 12 euros: every hit honours the filter.
    let filter = r#"{"allergens": {"none": ["nuts", "peanuts"]}, "price": {"lte": 12}}"#;
    let hits = search(
        data.path(),
        "something sweet for dessert",
        &["-k", "5", "--filter", filter],
    );
    assert_eq!(hits.len(), 5);
    for hit in &hits {
        let allergens = hit["metadata"]["allergens"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !allergens.iter().any(|a| a == "nuts" || a == "peanuts"),
            "{hit:#}"
        );
        assert!(
            hit["metadata"]["price"].as_f64().unwrap() <= 12.0,
            "{hit:#}"
        );
    }

    let table = stdout(&bellhop(
        &[
            "search",
            "can I bring my dog?",
            "--collection",
            "demo-hotel",
        ],
        data.path(),
    ));
    assert!(table.contains("15 kg"), "{table}");
}

#[test]
fn a_malformed_file_is_reported_by_name_and_the_rest_proceeds() {
    let data = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(
        docs.path().join("good.md"),
        "# Parking\n\nThe garage costs EUR 22 per night.\n",
    )
    .unwrap();
    std::fs::write(
        docs.path().join("broken.jsonl"),
        "{\"text\": \"fine\"}\n{\"text\": \n",
    )
    .unwrap();
    std::fs::write(docs.path().join("bad.csv"), "id,name\na,Soup,extra\n").unwrap();
    std::fs::write(docs.path().join("photo.jpg"), [0xff, 0xd8]).unwrap();
    let output = bellhop(
        &[
            "ingest",
            docs.path().to_str().unwrap(),
            "--collection",
            "c",
            "--json",
        ],
        data.path(),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.jsonl: line 2"), "{stderr}");
    assert!(stderr.contains("bad.csv: line 2"), "{stderr}");
    assert!(
        stderr.contains("photo.jpg") && stderr.contains("unsupported"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let status = |name: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("good.md"), "ingested");
    assert_eq!(status("broken.jsonl"), "failed");
    // Nothing of the broken file was written: its first, valid record is not searchable.
    let hits: Vec<Value> = serde_json::from_str(&stdout(&bellhop(
        &[
            "search",
            "fine",
            "--collection",
            "c",
            "--json",
            "--mode",
            "keyword",
        ],
        data.path(),
    )))
    .unwrap();
    assert!(hits.is_empty(), "{hits:#?}");
    let hits: Vec<Value> = serde_json::from_str(&stdout(&bellhop(
        &["search", "garage price", "--collection", "c", "--json"],
        data.path(),
    )))
    .unwrap();
    assert_eq!(hits[0]["document_id"], "good.md");
}

#[test]
fn unknown_collections_and_bad_filters_are_clear_errors() {
    let data = tempfile::tempdir().unwrap();
    let output = bellhop(&["search", "pool", "--collection", "nope"], data.path());
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("collection \"nope\" not found"));
    let output = bellhop(
        &["search", "pool", "--collection", "nope", "--filter", "{bad"],
        data.path(),
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("--filter is not valid JSON"));
    let output = bellhop(
        &[
            "search",
            "pool",
            "--collection",
            "x",
            "--filter",
            r#"{"a": {"near": 1}}"#,
        ],
        data.path(),
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown operator"));
}

#[test]
fn eval_reports_every_mode_on_a_small_dataset() {
    let dataset = tempfile::tempdir().unwrap();
    let root = dataset.path();
    std::fs::create_dir(root.join("qrels")).unwrap();
    std::fs::write(
        root.join("corpus.jsonl"),
        [
            r#"{"_id": "pool", "title": "Pool", "text": "The indoor pool is heated to 28 degrees."}"#,
            r#"{"_id": "pets", "title": "", "text": "Dogs up to 15 kg are welcome for a fee."}"#,
            r#"{"_id": "wifi", "text": "Wi-Fi is free; join the guest network."}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"how warm is the swimming pool\"}\n{\"_id\": \"q2\", \"text\": \"can my dog stay\"}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\tpool\t1\nq2\tpets\t2\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let results = eval(root, data.path());
    for mode in ["dense", "keyword", "hybrid"] {
        assert_eq!(results[mode]["queries"], 2, "{results:#}");
        for metric in ["ndcg@10", "recall@10", "mrr@10"] {
            let value = results[mode][metric].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&value), "{mode} {metric} {value}");
        }
    }
    assert_eq!(results["dense"]["mrr@10"], 1.0, "{results:#}");
}

/// The dense mode must rank as sentence-transformers with exact cosine search does: the
/// reference was computed by `scripts/beir_reference.py` on the same data and model.
#[test]
fn msmarco_dense_matches_the_sentence_transformers_reference() {
    let dataset = repo().join("../shared/data/msmarco-5k");
    assert!(dataset.is_dir(), "{} is missing", dataset.display());
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repo().join("bench/retrieval/msmarco-5k-sentence-transformers.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let results = eval(&dataset, data.path());
    let ours = results["dense"]["ndcg@10"].as_f64().unwrap();
    let theirs = reference["ndcg@10"].as_f64().unwrap();
    assert!(
        (ours - theirs).abs() <= 0.002,
        "dense nDCG@10 {ours} vs sentence-transformers {theirs}"
    );
    assert_eq!(results["dense"]["queries"], reference["queries"]);
    for mode in ["keyword", "hybrid"] {
        assert!(
            results[mode]["ndcg@10"].as_f64().unwrap() > 0.5,
            "{results:#}"
        );
    }
}
