//! `bellhop ask` driven as a real process: extractive answers on the demo hotel, the real
//! local model (`scripts/fetch-llm.sh`) within its deadline, and the mistakes a user can make.

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use serde_json::Value;

use crate::common::{bellhop, describe, repo, stdout};

const QUESTION: &str = "Is the pool heated?";

fn gguf() -> String {
    let path = repo().join("models/qwen2.5-0.5b-instruct-q4_k_m.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-llm.sh",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// Ingests `paths` of the demo hotel into `demo-hotel`.
fn ingest(data_dir: &Path, paths: &[&str]) {
    let demo = repo().join("examples/demo-hotel");
    let paths: Vec<String> = paths
        .iter()
        .map(|path| demo.join(path).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["ingest", "--collection", "demo-hotel"];
    args.extend(paths.iter().map(String::as_str));
    stdout(&bellhop(&args, data_dir));
}

fn ask(data_dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["ask", QUESTION, "--collection", "demo-hotel"];
    args.extend_from_slice(extra);
    bellhop(&args, data_dir)
}

fn ask_json(data_dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&stdout(&ask(data_dir, &args))).unwrap()
}

fn chunk_ids(answer: &Value) -> Vec<u64> {
    answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|citation| citation["chunk_id"].as_u64().unwrap())
        .collect()
}

#[test]
fn ask_answers_from_the_demo_hotel_with_numbered_sources() {
    let data = tempfile::tempdir().unwrap();
    ingest(data.path(), &["."]);

    let answer = ask_json(data.path(), &[]);
    assert_eq!(answer["generator"], "extractive", "{answer:#}");
    assert_eq!(answer["degraded"], false, "{answer:#}");
    assert!(answer["reason"].is_null(), "{answer:#}");
    assert!(answer.get("usage").is_none(), "{answer:#}");
    assert_eq!(answer["cached"], false);
    assert_eq!(answer["deadline_ms"], 15_000, "the server's default");
    assert!(answer["timings"]["total_ms"].as_f64().unwrap() > 0.0);
    let text = answer["answer"].as_str().unwrap();
    assert!(text.contains("28 °C") && text.contains("[1]"), "{text}");
    let citations = answer["citations"].as_array().unwrap();
    assert!(!citations.is_empty());
    assert_eq!(citations[0]["index"], 1);

    // Plain text: the same answer, a blank line, then one numbered line per source.
    let output = ask(data.path(), &[]);
    let printed = stdout(&output);
    let sources: String = citations
        .iter()
        .map(|citation| {
            let section: Vec<&str> = citation["section"]
                .as_array()
                .unwrap()
                .iter()
                .map(|part| part.as_str().unwrap())
                .collect();
            let mut line = format!(
                "[{}] {}",
                citation["index"],
                citation["title"].as_str().unwrap()
            );
            if !section.is_empty() {
                line.push_str(&format!(" — {}", section.join(" > ")));
            }
            format!("{}\n", line.trim())
        })
        .collect();
    assert_eq!(printed, format!("{text}\n\n{sources}"));
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("fallback answer"),
        "{}",
        describe(&output)
    );
}

#[test]
fn ask_with_the_local_model_answers_and_holds_its_deadline() {
    let gguf = gguf();
    let data = tempfile::tempdir().unwrap();
    // A few files: the model's prompt stays short, and ingesting takes a moment.
    ingest(
        data.path(),
        &[
            "faq/faq.jsonl",
            "wellness/swimming-pool.md",
            "wellness/pool-rules.txt",
        ],
    );
    // Two passages and 24 tokens keep the model's part to seconds on a small CPU.
    let extractive = ask_json(data.path(), &["-k", "2"]);
    assert_eq!(extractive["generator"], "extractive", "{extractive:#}");

    let started = Instant::now();
    let local = ask_json(
        data.path(),
        &[
            "-k",
            "2",
            "--llm-gguf",
            &gguf,
            "--max-tokens",
            "24",
            "--deadline-ms",
            "120000",
        ],
    );
    let local_elapsed = started.elapsed();
    assert_eq!(local["generator"], "local", "{local:#}");
    assert_eq!(local["degraded"], false, "{local:#}");
    assert!(local["reason"].is_null(), "{local:#}");
    assert_eq!(local["deadline_ms"], 120_000);
    assert!(
        !local["answer"].as_str().unwrap().trim().is_empty(),
        "{local:#}"
    );
    let completion = local["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=24).contains(&completion), "{local:#}");
    assert!(
        local["usage"]["prompt_tokens"].as_u64().unwrap() > 0,
        "{local:#}"
    );
    assert!(
        local["timings"]["first_token_ms"].as_f64().is_some(),
        "{local:#}"
    );
    assert_eq!(
        chunk_ids(&local),
        chunk_ids(&extractive),
        "the same sources"
    );

    // 1 ms cannot hold a first token: the extractive answer comes instead, at once, and the
    // process does not wait for the model it gave up on.
    let started = Instant::now();
    let output = ask(
        data.path(),
        &[
            "--json",
            "-k",
            "2",
            "--llm-gguf",
            &gguf,
            "--max-tokens",
            "24",
            "--deadline-ms",
            "1",
        ],
    );
    let late_elapsed = started.elapsed();
    let late: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(late["degraded"], true, "{late:#}");
    assert_eq!(late["generator"], "extractive", "{late:#}");
    assert_eq!(late["answer"], extractive["answer"]);
    assert_eq!(late["deadline_ms"], 1);
    assert!(late.get("usage").is_none(), "{late:#}");
    let reason = late["reason"].as_str().unwrap();
    assert!(reason.contains("first token"), "{reason}");
    assert!(
        late["timings"]["total_ms"].as_f64().unwrap() < 5_000.0,
        "{late:#}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("(fallback answer: {reason})")),
        "{stderr}"
    );
    // Both runs load the model; only the first waits for it to read and write.
    assert!(
        late_elapsed < local_elapsed,
        "the fallback took {late_elapsed:?}, the model's answer {local_elapsed:?}"
    );
}

#[test]
fn ask_refuses_with_a_clear_message() {
    // Every check runs before any model loads, and none needs a collection but the first.
    let data = tempfile::tempdir().unwrap();
    let missing = data.path().join("no-such-model.gguf");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["--collection", "nowhere"],
            &["collection \"nowhere\" not found"],
        ),
        (
            &["--collection", "demo-hotel", "--generator", "local"],
            &["--generator local", "--llm-gguf"],
        ),
        (
            &["--collection", "demo-hotel", "--llm-gguf", missing],
            &["--llm-gguf", missing, "no such file"],
        ),
        (
            &["--collection", "demo-hotel", "--deadline-ms", "0"],
            &["--deadline-ms must be between 1 and"],
        ),
        (
            &["--collection", "demo-hotel", "--generator", "magic"],
            &["'magic'", "extractive, local, openai"],
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["ask", QUESTION];
        args.extend_from_slice(flags);
        let output = bellhop(&args, data.path());
        assert!(!output.status.success(), "{flags:?}: {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{flags:?}: {stderr}");
        for part in expected {
            assert!(stderr.contains(part), "{flags:?}: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{flags:?}: {}", describe(&output));
    }
}
