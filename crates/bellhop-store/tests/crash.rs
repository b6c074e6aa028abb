//! Crash safety: a child process writes documents and acknowledges each one once its write
//! returned; the test kills it with SIGKILL at an arbitrary moment, reopens the store, and
//! checks that it is sound and that every acknowledged document is whole and searchable.
//!
//! The child is this test binary run again with [`WRITER_DIR_VAR`] set, filtered down to
//! [`crash_child_writer`], which does nothing in an ordinary test run.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bellhop_store::{
    CollectionSpec, EmbeddedStore, NewDocument, SearchMode, SearchRequest, Store, StoreError,
};
use common::{Rng, chunk, dense, document, document_ids};

/// Set to the data directory in the child writer's environment.
const WRITER_DIR_VAR: &str = "BELLHOP_CRASH_WRITER_DIR";
const COLLECTION: &str = "crash";
const DIM: usize = 16;
const CHUNKS: usize = 5;
/// Kill cycles on the same directory.
const ROUNDS: usize = 3;
/// Acknowledgements to wait for before a kill, at least.
const MIN_ACKS: u64 = 50;
/// Longest wait for the child's next line before giving up on it.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

fn document_id(n: u64) -> String {
    format!("doc-{n:06}")
}

/// A word found only in document `n`.
fn unique_word(n: u64) -> String {
    format!("uniq{n:06}word")
}

fn chunk_vector(n: u64, part: usize) -> Vec<f32> {
    Rng::new(n * CHUNKS as u64 + part as u64 + 1).unit_vector(DIM)
}

/// Document `n`: five chunks of a few hundred bytes each, all holding its unique word.
fn crash_document(n: u64) -> NewDocument {
    let word = unique_word(n);
    document(
        &document_id(n),
        (0..CHUNKS)
            .map(|part| {
                let text = format!(
                    "Record {word} part {part}. The night manager checked the lobby, the \
                     terrace and the pool, counted the towels, locked the spa, restocked the \
                     minibars on the third floor, and noted that the shuttle to the station \
                     leaves at six. Guests asked about late checkout, breakfast hours and the \
                     parking garage; all were answered at the front desk."
                );
                chunk(text, chunk_vector(n, part))
            })
            .collect(),
    )
}

/// The child writer: appends documents one write at a time and prints `ACK <id>` after each
/// write returns, until it is killed (or, as a safeguard, after two minutes or once its
/// parent stops reading).
#[test]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(WRITER_DIR_VAR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = EmbeddedStore::open(&dir).unwrap();
        let first = match store
            .create_collection(CollectionSpec::new(COLLECTION, "synthetic", DIM))
            .await
        {
            Ok(_) => 0,
            Err(StoreError::CollectionExists(_)) => {
                store.collection(COLLECTION).await.unwrap().documents
            }
            Err(err) => panic!("creating the collection: {err}"),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut stdout = std::io::stdout();
        for n in first.. {
            store
                .put_documents(COLLECTION, vec![crash_document(n)], None)
                .await
                .unwrap();
            let acknowledged =
                writeln!(stdout, "ACK {}", document_id(n)).and_then(|()| stdout.flush());
            if acknowledged.is_err() || Instant::now() > deadline {
                return;
            }
        }
    });
}

/// Runs the child writer on `dir` until at least `min_acks` acknowledgements arrived, plus a
/// random delay, then kills it; returns every document it acknowledged.
fn write_until_killed(dir: &Path, min_acks: u64, rng: &mut Rng) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER_DIR_VAR, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child writer starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let mut acknowledged = Vec::new();
    let take = |line: String, acknowledged: &mut Vec<String>| {
        if let Some(id) = line.strip_prefix("ACK ") {
            acknowledged.push(id.to_string());
        }
    };
    while (acknowledged.len() as u64) < min_acks {
        match received.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => take(line, &mut acknowledged),
            Err(err) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "the child writer stopped after {} acknowledgements ({err}): {status:?}",
                    acknowledged.len()
                );
            }
        }
    }
    std::thread::sleep(Duration::from_micros(rng.below(20_000)));
    child.kill().expect("SIGKILL reaches the child");
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child was killed, not finished: {status}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status}");
    }
    // Lines already in the pipe were acknowledged before the kill.
    reader.join().unwrap();
    for line in received.try_iter() {
        take(line, &mut acknowledged);
    }
    acknowledged
}

/// Checks the reopened store: sound, every document whole, every acknowledged one findable.
async fn verify(store: &EmbeddedStore, acknowledged: &[String], round: usize) {
    let report = store.check_integrity().await.unwrap();
    assert!(report.is_ok(), "round {round}: {:?}", report.problems);
    let info = store.collection(COLLECTION).await.unwrap();
    assert!(
        info.documents as usize >= acknowledged.len(),
        "round {round}: {} documents for {} acknowledged",
        info.documents,
        acknowledged.len()
    );
    assert_eq!(info.chunks, info.documents * CHUNKS as u64, "round {round}");
    eprintln!(
        "round {round}: {} documents stored, {} acknowledged",
        info.documents,
        acknowledged.len()
    );
    // Writes are sequential, so the stored documents are exactly 0..count, each whole (the
    // write in flight at the kill is there entirely or not at all).
    let stored = store
        .list_documents(COLLECTION, 0, usize::MAX)
        .await
        .unwrap();
    for (n, doc) in stored.iter().enumerate() {
        assert_eq!(doc.id, document_id(n as u64), "round {round}");
        assert_eq!(doc.chunks, CHUNKS as u64, "round {round}: {}", doc.id);
    }
    for id in acknowledged {
        let n: u64 = id.strip_prefix("doc-").unwrap().parse().unwrap();
        let info = store.document(COLLECTION, id).await.unwrap();
        assert_eq!(info.chunks, CHUNKS as u64, "{id}");

        let part = (n % CHUNKS as u64) as usize;
        let hits = dense(store, COLLECTION, &chunk_vector(n, part), 1).await;
        assert_eq!(document_ids(&hits), [id.as_str()], "dense search for {id}");
        assert!(hits[0].text.contains(&format!("part {part}.")), "{id}");
        assert!(
            (hits[0].score - 1.0).abs() < 1e-4,
            "{id}: {}",
            hits[0].score
        );

        let search = SearchRequest::new(unique_word(n), 10)
            .unwrap()
            .with_mode(SearchMode::Keyword);
        let hits = store.search(COLLECTION, &search, None).await.unwrap();
        assert_eq!(hits.len(), CHUNKS, "keyword search for {id}");
        assert!(hits.iter().all(|hit| hit.document_id == *id), "{id}");
    }
}

#[test]
fn acknowledged_writes_survive_the_writer_being_killed() {
    if std::env::var_os(WRITER_DIR_VAR).is_some() {
        return;
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut acknowledged = Vec::new();
    for round in 0..ROUNDS {
        let min_acks = MIN_ACKS + rng.below(MIN_ACKS);
        let new = write_until_killed(dir.path(), min_acks, &mut rng);
        assert!(new.len() as u64 >= min_acks, "round {round}");
        acknowledged.extend(new);
        runtime.block_on(async {
            let store = EmbeddedStore::open(dir.path()).expect("the crashed store reopens");
            verify(&store, &acknowledged, round).await;
        });
    }
    let mut unique = acknowledged.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        acknowledged.len(),
        "ids continue across rounds"
    );
}
