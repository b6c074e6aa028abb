//! `bellhop eval --answers`: asks every question of a set through the engine the server
//! answers with, one at a time, and scores right answers and abstentions per language.

use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use bellhop_answer::evaluation::{self, EvalQuestion, EvalReport, GroupReport};
use bellhop_answer::{AskOptions, GeneratorChoice};
use bellhop_server::config::LlmConfig;
use bellhop_store::SearchRequest;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::ModelArgs;
use crate::ask::GeneratorArg;
use crate::llm_args::LlmArgs;
use crate::store_args::{StoreArgs, runtime};

/// How the questions are answered.
#[derive(Debug, Args)]
pub struct AnsweringArgs {
    /// Who writes the answers [default: as `bellhop ask`].
    #[arg(long, value_enum)]
    generator: Option<GeneratorArg>,
    #[command(flatten)]
    llm: LlmArgs,
    /// Milliseconds within which each answer is given.
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Passages retrieved per question.
    #[arg(long, default_value_t = 5)]
    k: usize,
}

/// Reads a question set: one JSON object a line, blank lines skipped.
fn read_questions(path: &Path) -> anyhow::Result<Vec<EvalQuestion>> {
    let file = fs_err::File::open(path)?;
    let mut questions = Vec::new();
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let question: EvalQuestion = serde_json::from_str(&line)
            .with_context(|| format!("{} line {}", path.display(), index + 1))?;
        question
            .validate()
            .map_err(|err| anyhow::anyhow!("{} line {}: {err}", path.display(), index + 1))?;
        questions.push(question);
    }
    anyhow::ensure!(
        !questions.is_empty(),
        "{} holds no questions",
        path.display()
    );
    Ok(questions)
}

/// Runs the evaluation and prints its report.
pub fn run(
    questions_path: &Path,
    collection: &str,
    store: &StoreArgs,
    model: &ModelArgs,
    answering: &AnsweringArgs,
    json: bool,
) -> anyhow::Result<()> {
    let questions = read_questions(questions_path)?;
    let llm = LlmConfig {
        gguf: answering.llm.gguf()?,
        upstreams: answering.llm.upstreams()?,
        ..LlmConfig::default()
    };
    let runtime = runtime()?;
    let store = store.open(&runtime)?;
    runtime.block_on(store.collection(collection))?;
    let engine = crate::ask::answer_engine(store, model, &llm)?;
    let options = AskOptions {
        generator: answering.generator.map(GeneratorChoice::from),
        deadline: answering.deadline_ms.map(std::time::Duration::from_millis),
        ..AskOptions::default()
    };
    let bar = ProgressBar::new(questions.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} asking [{bar:30}] {pos}/{len} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let results = runtime.block_on(async {
        let mut results = Vec::with_capacity(questions.len());
        for question in &questions {
            let request = SearchRequest::new(&question.question, answering.k)?;
            let started = Instant::now();
            let reply = engine.ask(collection, &request, options.clone()).await?;
            let outcome = reply.finished().await.map_err(|panic| match panic {
                Some(panic) => anyhow::anyhow!("the answer failed: {panic}"),
                None => anyhow::anyhow!("the answer stopped before it was complete"),
            })?;
            let latency_ms = started.elapsed().as_secs_f64() * 1e3;
            results.push(evaluation::score(question, &outcome, latency_ms));
            bar.inc(1);
        }
        anyhow::Ok(results)
    })?;
    bar.finish_and_clear();
    let report = evaluation::report(results);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(report: &EvalReport) {
    for result in report.questions.iter().filter(|result| !result.right) {
        let verdict = match (result.answerable, result.abstained) {
            (true, true) => "abstained",
            (true, false) => "wrong",
            (false, _) => "answered",
        };
        let answer: String = result.answer.chars().take(100).collect();
        println!(
            "{verdict:<9} {:<28} {answer} ({})",
            result.id, result.answerability.reason
        );
    }
    println!();
    println!(
        "{:<6} {:>14} {:>16} {:>17} {:>8} {:>8} {:>13}",
        "group",
        "answered right",
        "abstained right",
        "wrong abstentions",
        "p50 ms",
        "p95 ms",
        "abstain p50"
    );
    let row = |name: &str, group: &GroupReport| {
        println!(
            "{name:<6} {:>14} {:>16} {:>17} {:>8.1} {:>8.1} {:>13}",
            format!("{}/{}", group.answered_right, group.answerable),
            format!("{}/{}", group.abstained_right, group.unanswerable),
            format!("{}/{}", group.wrong_abstentions, group.answerable),
            group.latency_p50_ms,
            group.latency_p95_ms,
            group
                .abstention_p50_ms
                .map_or("-".to_string(), |ms| format!("{ms:.1}")),
        );
    };
    for (name, group) in &report.groups {
        row(name, group);
    }
    row("all", &report.all);
}
