//! The async queue batches concurrent callers, returns the engine's vectors, and refuses work
//! past its bound instead of growing.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{cosine, model_dir, references};
use bellhop_embed::{EmbedError, Embedder, EmbeddingQueue, ModelSource, QueueOptions};

fn embedder() -> Arc<Embedder> {
    Arc::new(Embedder::load(&ModelSource::Dir(model_dir())).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_are_batched_and_get_their_own_vectors() {
    let refs = references();
    let queue = EmbeddingQueue::start(
        embedder(),
        QueueOptions {
            max_wait: Duration::from_millis(5),
            ..QueueOptions::default()
        },
    );
    let tasks: Vec<_> = refs
        .iter()
        .map(|reference| {
            let queue = queue.clone();
            let text = reference.text.clone();
            tokio::spawn(async move { queue.embed(&text).await })
        })
        .collect();
    for (task, reference) in tasks.into_iter().zip(&refs) {
        let vector = task.await.unwrap().unwrap();
        let similarity = cosine(&vector, &reference.embedding);
        assert!(
            similarity >= 0.9999,
            "{similarity} for {:?}",
            reference.text
        );
    }
    let stats = queue.snapshot();
    assert_eq!(stats.sequences, refs.len() as u64);
    assert!(stats.batches < stats.sequences, "no coalescing: {stats:?}");
    assert_eq!(stats.depth, 0);
    assert_eq!(stats.rejected, 0);
}

#[tokio::test]
async fn embed_many_keeps_input_order() {
    let queue = EmbeddingQueue::start(embedder(), QueueOptions::default());
    let refs = references();
    let texts: Vec<&str> = refs.iter().take(20).map(|r| r.text.as_str()).collect();
    let vectors = queue.embed_many(&texts).await.unwrap();
    for (vector, reference) in vectors.iter().zip(&refs) {
        assert!(cosine(vector, &reference.embedding) >= 0.9999);
    }
    assert!(queue.embed_many::<&str>(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_request_larger_than_the_queue_is_refused_at_once() {
    let queue = EmbeddingQueue::start(
        embedder(),
        QueueOptions {
            capacity: 2,
            ..QueueOptions::default()
        },
    );
    let err = queue.embed_many(&["a", "b", "c"]).await.unwrap_err();
    assert!(
        matches!(err, EmbedError::QueueFull { capacity: 2 }),
        "{err}"
    );
    assert!(err.to_string().contains("queue is full"), "{err}");
    assert_eq!(queue.snapshot().rejected, 3);
    // Nothing was admitted, so the queue still serves requests that fit.
    assert_eq!(queue.embed_many(&["a", "b"]).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_past_the_bound_gets_queue_full_errors_and_nothing_hangs() {
    let capacity = 8;
    let queue = EmbeddingQueue::start(
        embedder(),
        QueueOptions {
            capacity,
            ..QueueOptions::default()
        },
    );
    let long_text = references()
        .into_iter()
        .map(|r| r.text)
        .max_by_key(String::len)
        .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let queue = queue.clone();
            let text = long_text.clone();
            tokio::spawn(async move { queue.embed(&text).await })
        })
        .collect();
    let (mut served, mut refused) = (0, 0);
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .unwrap()
            .unwrap()
        {
            Ok(vector) => {
                assert_eq!(vector.len(), 384);
                served += 1;
            }
            Err(EmbedError::QueueFull { .. }) => refused += 1,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert!(served >= capacity, "served {served}");
    assert!(refused > 0, "the bound was never reached");
    let stats = queue.snapshot();
    assert_eq!(stats.rejected, refused as u64);
    assert_eq!(stats.depth, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_prompts_embeds_queries_as_plain_text() {
    let embedder = embedder();
    assert!(embedder.prompts().is_empty());
    assert_eq!(embedder.query_prompt_name(), None);
    assert_eq!(embedder.document_prompt_name(), None);
    let queue = EmbeddingQueue::start(embedder, QueueOptions::default());
    let text = "is the pool heated?";
    let query = queue.embed_query(text).await.unwrap();
    let plain = queue.embed(text).await.unwrap();
    assert_eq!(query, plain);
}

#[tokio::test]
async fn a_lone_caller_is_embedded_at_once_not_after_the_wait_window() {
    // A window far longer than any pass: a lone caller waiting it out would time out below.
    let queue = EmbeddingQueue::start(
        embedder(),
        QueueOptions {
            max_wait: Duration::from_secs(600),
            ..QueueOptions::default()
        },
    );
    for text in ["is the pool heated", "what time is breakfast"] {
        let vector = tokio::time::timeout(Duration::from_secs(60), queue.embed(text))
            .await
            .expect("a lone caller waited for the window")
            .unwrap();
        assert_eq!(vector.len(), 384);
    }
    assert_eq!(queue.snapshot().batches, 2);
}
