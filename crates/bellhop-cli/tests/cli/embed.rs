//! `bellhop embed` driven as a real process.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    assert!(
        dir.is_dir(),
        "{} is missing: run scripts/fetch-model.sh",
        dir.display()
    );
    dir
}

fn bellhop(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(args)
        .arg("--model")
        .arg(model_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn reference(text: &str) -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../bellhop-embed/tests/fixtures/reference-all-MiniLM-L6-v2.jsonl");
    let fixture = std::fs::read_to_string(path).unwrap();
    fixture
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|record| record["text"] == text)
        .map(|record| serde_json::from_value(record["embedding"].clone()).unwrap())
        .unwrap_or_else(|| panic!("{text:?} is not in the fixture"))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[test]
fn texts_as_arguments_print_a_json_array_of_reference_vectors() {
    let output = bellhop(&["embed", "is the pool heated?", "wifi password"], None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let vectors: Vec<Vec<f32>> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(vectors.len(), 2);
    assert!(cosine(&vectors[0], &reference("is the pool heated?")) >= 0.9999);
    assert!(cosine(&vectors[1], &reference("wifi password")) >= 0.9999);
}

#[test]
fn jsonl_file_to_npy_and_to_jsonl() {
    let temp = tempfile::tempdir().unwrap();
    let input = temp.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"a\", \"text\": \"gym opening hours\"}\n\n{\"id\": 7, \"text\": \"airport shuttle\"}\n",
    )
    .unwrap();

    let npy = temp.path().join("out.npy");
    let output = bellhop(
        &[
            "embed",
            "--input",
            input.to_str().unwrap(),
            "--output",
            npy.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bytes = std::fs::read(&npy).unwrap();
    let array = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(array.shape(), &[2, 384]);
    let data: Vec<f32> = array.into_vec().unwrap();
    assert!(cosine(&data[..384], &reference("gym opening hours")) >= 0.9999);
    assert!(cosine(&data[384..], &reference("airport shuttle")) >= 0.9999);

    let jsonl = temp.path().join("out.jsonl");
    let output = bellhop(
        &[
            "embed",
            "-i",
            input.to_str().unwrap(),
            "-o",
            jsonl.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[1]["id"], 7);
    assert_eq!(lines[1]["embedding"].as_array().unwrap().len(), 384);
}

#[test]
fn stdin_lines_are_embedded_one_per_line() {
    let output = bellhop(&["embed"], Some(b"gym opening hours\nairport shuttle\n"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["text"], "airport shuttle");
}

#[test]
fn invalid_utf8_fails_naming_the_line() {
    let output = bellhop(&["embed"], Some(b"fine\nbroken \xff\xfe here\n"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stdin: line 2 is not valid UTF-8"),
        "{stderr}"
    );

    let temp = tempfile::tempdir().unwrap();
    let input = temp.path().join("bad.jsonl");
    std::fs::write(&input, b"{\"text\": \"ok\"}\n{\"text\": \"\xc3\x28\"}\n").unwrap();
    let output = bellhop(&["embed", "--input", input.to_str().unwrap()], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.jsonl: line 2 is not valid UTF-8"),
        "{stderr}"
    );
}

#[test]
fn malformed_jsonl_and_missing_files_are_clear_errors() {
    let temp = tempfile::tempdir().unwrap();
    let input = temp.path().join("broken.jsonl");
    std::fs::write(&input, "{\"text\": \"ok\"}\n{\"text\": \n").unwrap();
    let output = bellhop(&["embed", "--input", input.to_str().unwrap()], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.jsonl: line 2 is not a JSON object"),
        "{stderr}"
    );

    let missing = temp.path().join("nope.jsonl");
    let output = bellhop(&["embed", "--input", missing.to_str().unwrap()], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.jsonl"));
}

#[test]
fn a_missing_model_directory_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(["embed", "--model", "/no/such/model", "hello"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/no/such/model") && stderr.contains("config.json"),
        "{stderr}"
    );
}

#[test]
fn a_prompt_the_model_lacks_is_refused_by_name() {
    // all-MiniLM-L6-v2 has no prompts.
    let output = bellhop(&["embed", "--prompt-name", "query", "wifi password"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no prompt named \"query\"") && stderr.contains("none"),
        "{stderr}"
    );
}

#[test]
fn a_size_the_model_card_does_not_list_is_refused() {
    // all-MiniLM-L6-v2's files come without a card that names Matryoshka sizes.
    let output = bellhop(&["embed", "--dimensions", "128", "wifi password"], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot be shortened to 128") && stderr.contains("not trained"),
        "{stderr}"
    );
    let output = bellhop(&["embed", "--dimensions", "384", "wifi password"], None);
    assert!(output.status.success());
    let vectors: Vec<Vec<f32>> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(vectors[0].len(), 384);
}
