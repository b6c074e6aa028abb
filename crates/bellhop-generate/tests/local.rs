//! The local generator on the real Qwen2.5 0.5B Instruct GGUF (`scripts/fetch-llm.sh`).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bellhop_generate::{
    ChatMessage, FinishReason, GenerateError, GenerationEvent, GenerationRequest, Generator,
    LocalGenerator, LocalOptions, Role,
};

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/qwen2.5-0.5b-instruct-q4_k_m.gguf");
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-llm.sh",
        path.display()
    );
    path
}

/// One model shared by the tests that do not need their own settings.
fn shared() -> Arc<LocalGenerator> {
    static MODEL: OnceLock<Arc<LocalGenerator>> = OnceLock::new();
    Arc::clone(MODEL.get_or_init(|| {
        Arc::new(LocalGenerator::load(&model_path(), &LocalOptions::default()).unwrap())
    }))
}

const SOURCES: &str = "You are the concierge of the Harbour View Hotel. Answer only from the \
sources below and cite them as [n].\n\n[1] Pool: the outdoor pool is heated to 28 °C all year \
and is open from 7:00 to 21:00.\n[2] Parking: the garage costs 25 EUR per night.";

fn pool_question(max_tokens: usize) -> GenerationRequest {
    GenerationRequest::new(
        vec![
            ChatMessage::new(Role::System, SOURCES),
            ChatMessage::new(Role::User, "Is the pool heated?"),
        ],
        max_tokens,
    )
}

const GENEROUS: Duration = Duration::from_secs(120);

#[test]
fn the_tokenizer_from_gguf_metadata_matches_qwen_ids() {
    let model = shared();
    let request = GenerationRequest::new(vec![ChatMessage::new(Role::User, "Hello world")], 1);
    let ids = model.prompt_tokens(&request).unwrap();
    // <|im_start|>system … <|im_end|>\n<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n
    assert_eq!(ids[0], 151_644, "<|im_start|> is one special token");
    let user = ids
        .windows(2)
        .position(|pair| pair == [9707, 1879])
        .expect("\"Hello world\" is [9707, 1879] in Qwen2's vocabulary");
    assert!(user > 3);
    assert_eq!(
        ids.iter().filter(|&&id| id == 151_645).count(),
        2,
        "two <|im_end|>"
    );
    assert_eq!(model.count_tokens("Hello world"), 2);
    assert_eq!(
        model.count_tokens("café 28 °C — 日本"),
        model.count_tokens("café 28 °C — 日本")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_answers_from_the_sources_and_repeats_exactly() {
    let model = shared();
    let (first, reason, usage) = model
        .generate(pool_question(48))
        .await
        .unwrap()
        .collect_text(GENEROUS)
        .await
        .unwrap();
    assert!(
        first.contains("28") || first.to_lowercase().contains("heated"),
        "{first:?}"
    );
    assert!(usage.prompt_tokens > 50 && usage.completion_tokens > 0);
    assert!(usage.completion_tokens <= 48);
    assert!(matches!(reason, FinishReason::Stop | FinishReason::Length));
    let (second, _, second_usage) = model
        .generate(pool_question(48))
        .await
        .unwrap()
        .collect_text(GENEROUS)
        .await
        .unwrap();
    assert_eq!(first, second, "greedy decoding is deterministic");
    assert_eq!(usage, second_usage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_and_stop_sequences_hold() {
    let model = shared();
    let (_, reason, usage) = model
        .generate(pool_question(4))
        .await
        .unwrap()
        .collect_text(GENEROUS)
        .await
        .unwrap();
    assert_eq!(reason, FinishReason::Length);
    assert_eq!(usage.completion_tokens, 4);

    let mut counting = GenerationRequest::new(
        vec![ChatMessage::new(
            Role::User,
            "Count from 1 to 10, separated by commas, and nothing else.",
        )],
        40,
    );
    counting.stop = vec!["5".to_string()];
    let (text, reason, _) = model
        .generate(counting)
        .await
        .unwrap()
        .collect_text(GENEROUS)
        .await
        .unwrap();
    assert_eq!(reason, FinishReason::Stop);
    assert!(text.contains('4') && !text.contains('5'), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_with_a_seed_repeats_and_temperature_changes_the_answer() {
    let model = shared();
    let mut request = pool_question(16);
    request.sampling.temperature = 1.2;
    request.sampling.top_p = Some(0.95);
    let run = |request: GenerationRequest| {
        let model = Arc::clone(&model);
        async move {
            model
                .generate(request)
                .await
                .unwrap()
                .collect_text(GENEROUS)
                .await
                .unwrap()
                .0
        }
    };
    let first = run(request.clone()).await;
    assert_eq!(first, run(request.clone()).await, "same seed, same answer");
    let mut differs = false;
    for seed in 1..=4 {
        request.sampling.seed = seed;
        differs |= run(request.clone()).await != first;
    }
    assert!(differs, "other seeds sample other answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once_and_a_dropped_stream_frees_the_model() {
    let options = LocalOptions {
        queue_capacity: 1,
        ..LocalOptions::default()
    };
    let model = LocalGenerator::load(&model_path(), &options).unwrap();
    let mut running = model.generate(pool_question(400)).await.unwrap();
    // Once a piece arrives the model thread holds the first request; one more may wait.
    assert!(matches!(
        running.next().await,
        Some(Ok(GenerationEvent::Text(_)))
    ));
    let waiting = model.generate(pool_question(4)).await.unwrap();
    assert_eq!(model.queue_depth(), 1);
    let refused = model.generate(pool_question(4)).await.unwrap_err();
    assert!(matches!(refused, GenerateError::QueueFull(1)), "{refused}");

    // Dropping the long stream stops it; the waiting request then runs to the end.
    drop(running);
    let (_, reason, usage) = waiting.collect_text(Duration::from_secs(60)).await.unwrap();
    assert_eq!((reason, usage.completion_tokens), (FinishReason::Length, 4));
    assert_eq!(model.queue_depth(), 0);
}

#[tokio::test]
async fn requests_the_model_cannot_take_are_clear_errors() {
    let model = shared();
    let empty = model
        .generate(GenerationRequest::new(Vec::new(), 4))
        .await
        .unwrap_err();
    assert!(matches!(empty, GenerateError::InvalidRequest(_)), "{empty}");
    let zero = model.generate(pool_question(0)).await.unwrap_err();
    assert!(zero.to_string().contains("max_tokens"), "{zero}");
    let long = "the pool is heated ".repeat(2_000);
    let too_long = model
        .generate(GenerationRequest::new(
            vec![ChatMessage::new(Role::User, long)],
            16,
        ))
        .await
        .unwrap_err();
    assert!(
        too_long.to_string().contains("exceed the context"),
        "{too_long}"
    );
}

#[test]
fn truncated_corrupt_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(model_path()).unwrap();

    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &original[..original.len() / 2]).unwrap();
    let err = LocalGenerator::load(&truncated, &LocalOptions::default()).unwrap_err();
    assert!(
        matches!(&err, GenerateError::InvalidModel { .. }) && err.to_string().contains("truncated"),
        "{err}"
    );

    let corrupt = dir.path().join("corrupt.gguf");
    let mut bytes = original[..4096].to_vec();
    bytes[..4].copy_from_slice(b"NOPE");
    std::fs::write(&corrupt, bytes).unwrap();
    let err = LocalGenerator::load(&corrupt, &LocalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a GGUF file"), "{err}");

    let header_only = dir.path().join("header.gguf");
    std::fs::write(&header_only, &original[..64]).unwrap();
    let err = LocalGenerator::load(&header_only, &LocalOptions::default()).unwrap_err();
    assert!(matches!(err, GenerateError::InvalidModel { .. }), "{err}");

    let missing = dir.path().join("missing.gguf");
    let err = LocalGenerator::load(&missing, &LocalOptions::default()).unwrap_err();
    assert!(err.to_string().contains("missing.gguf"), "{err}");
}
