//! Measures the local generator: load time, time to first token for a prompt of about
//! PROMPT_TOKENS tokens, and generation speed. Prints one JSON object; `bench/generate/run.py` runs
//! it beside llama-cpp-python on the same file.
//!
//! Usage: generate_bench MODEL.gguf [PROMPT_TOKENS] [NEW_TOKENS] [RUNS]

use std::time::{Duration, Instant};

use bellhop_generate::{
    ChatMessage, GenerationEvent, GenerationRequest, Generator, LocalGenerator, LocalOptions, Role,
};

/// A hotel text repeated until the prompt has the wanted length.
const FILLER: &str = "The Harbour View Hotel has 120 rooms over six floors. Breakfast is served \
from 6:30 to 10:30 in the Atrium restaurant. The outdoor pool is heated to 28 degrees and open \
from 7:00 to 21:00. Parking in the garage costs 25 euros per night. ";

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::PathBuf::from(args.get(1).expect("MODEL.gguf"));
    let prompt_tokens: usize = args.get(2).map_or(500, |v| v.parse().unwrap());
    let new_tokens: usize = args.get(3).map_or(64, |v| v.parse().unwrap());
    let runs: usize = args.get(4).map_or(3, |v| v.parse().unwrap());

    let started = Instant::now();
    let model = LocalGenerator::load(&path, &LocalOptions::default()).unwrap();
    let load_ms = started.elapsed().as_secs_f64() * 1e3;

    let mut context = String::new();
    let question = "Write a long, detailed description of the hotel.";
    let request = |context: &str| {
        GenerationRequest::new(
            vec![
                ChatMessage::new(Role::System, format!("Sources:\n{context}")),
                ChatMessage::new(Role::User, question),
            ],
            new_tokens,
        )
    };
    let mut filler_repeats = 0;
    while model.prompt_tokens(&request(&context)).unwrap().len() < prompt_tokens {
        context.push_str(FILLER);
        filler_repeats += 1;
    }
    let prompt_len = model.prompt_tokens(&request(&context)).unwrap().len();

    let (mut ttft, mut speed) = (Vec::new(), Vec::new());
    let mut generated = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let mut stream = model.generate(request(&context)).await.unwrap();
        let mut first = None;
        while let Some(event) = stream.next().await {
            match event.unwrap() {
                GenerationEvent::Text(_) => {
                    first.get_or_insert_with(|| started.elapsed());
                }
                GenerationEvent::Finished { usage, .. } => {
                    generated = usage.completion_tokens;
                    let first = first.unwrap_or(Duration::ZERO);
                    ttft.push(first.as_secs_f64() * 1e3);
                    let decode = (started.elapsed() - first).as_secs_f64();
                    speed.push((usage.completion_tokens.saturating_sub(1)) as f64 / decode);
                }
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "engine": "bellhop",
            "load_ms": load_ms,
            "prompt_tokens": prompt_len,
            "filler_repeats": filler_repeats,
            "generated_tokens": generated,
            "ttft_ms_median": median(&mut ttft),
            "tokens_per_second_median": median(&mut speed),
            "runs": runs,
            "threads": candle_core::utils::get_num_threads(),
        })
    );
}
