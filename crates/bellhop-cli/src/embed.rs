//! `bellhop embed`: texts to vectors, as JSON, JSONL or `.npy`.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use bellhop_embed::{Embedder, EmbedderOptions, Embeddings};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::ModelArgs;
use crate::input::{InputRecord, read_jsonl, read_plain_lines};

/// Arguments of `bellhop embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Texts to embed; prints a JSON array of vectors. Without texts or --input, reads one text
    /// per line from standard input.
    pub texts: Vec<String>,

    /// A JSONL file of `{"id": .., "text": ..}` records (`-` for standard input).
    #[arg(long, short, conflicts_with = "texts")]
    pub input: Option<PathBuf>,

    /// Where to write: `.npy` writes a float32 (n, dim) matrix in input order, anything else
    /// JSONL `{"id": .., "embedding": [..]}`. Standard output when absent.
    #[arg(long, short)]
    pub output: Option<PathBuf>,

    /// A prompt of the model's (`config_sentence_transformers.json`) to put before every text,
    /// e.g. `query` or `document`; none by default.
    #[arg(long)]
    pub prompt_name: Option<String>,

    /// Shorten the vectors to this many dimensions: one of the shorter sizes a Matryoshka
    /// model's card lists (each vector is cut and scaled to unit length again).
    #[arg(long)]
    pub dimensions: Option<usize>,

    /// Upper bound on padded tokens per forward pass.
    #[arg(long, default_value_t = EmbedderOptions::default().max_batch_tokens)]
    pub batch_tokens: usize,

    #[command(flatten)]
    pub model: ModelArgs,
}

/// Runs the command.
pub fn run(args: &EmbedArgs) -> Result<()> {
    let (records, from_args) = read_records(args)?;
    let options = EmbedderOptions {
        max_batch_tokens: args.batch_tokens,
        ..args.model.options()
    };
    let source = args.model.source();
    let embedder = Embedder::load_with(&source, &options)
        .with_context(|| format!("loading model {source}"))?;
    let dim = embedder.dimensions_or_full(args.dimensions)?;

    let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    let progress = progress_bar(texts.len() as u64, args.input.is_some());
    let vectors = embedder.embed_with_progress(&texts, args.prompt_name.as_deref(), |done| {
        progress.inc(done as u64)
    })?;
    let vectors = vectors.shortened(dim);
    progress.finish_and_clear();

    match &args.output {
        Some(path) if path.extension().is_some_and(|ext| ext == "npy") => write_npy(path, &vectors),
        Some(path) => {
            let file = fs_err::File::create(path)?;
            write_jsonl(BufWriter::new(file), &records, &vectors)
                .with_context(|| format!("writing {}", path.display()))
        }
        None if from_args => write_json_array(std::io::stdout().lock(), &vectors),
        None => write_jsonl(std::io::stdout().lock(), &records, &vectors),
    }
}

/// The records to embed, and whether they came from command-line arguments.
fn read_records(args: &EmbedArgs) -> Result<(Vec<InputRecord>, bool)> {
    if !args.texts.is_empty() {
        let records = args
            .texts
            .iter()
            .map(|text| InputRecord {
                id: None,
                text: text.clone(),
            })
            .collect();
        return Ok((records, true));
    }
    let records = match args.input.as_deref() {
        Some(path) if path == Path::new("-") => read_jsonl(std::io::stdin().lock(), "stdin")?,
        Some(path) => {
            let file = fs_err::File::open(path)?;
            read_jsonl(BufReader::new(file), &path.display().to_string())?
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("nothing to embed: give texts, --input FILE.jsonl, or pipe lines to stdin");
            }
            read_plain_lines(stdin.lock(), "stdin")?
        }
    };
    Ok((records, false))
}

fn progress_bar(len: u64, wanted: bool) -> ProgressBar {
    if !wanted {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} texts  {per_sec}  eta {eta}")
            .expect("valid progress template"),
    );
    bar
}

fn write_json_array(mut out: impl Write, vectors: &Embeddings) -> Result<()> {
    writeln!(out, "[")?;
    for (index, row) in vectors.rows().enumerate() {
        let separator = if index + 1 < vectors.len() { "," } else { "" };
        writeln!(out, "  {}{separator}", serde_json::to_string(row)?)?;
    }
    writeln!(out, "]")?;
    Ok(())
}

fn write_jsonl(mut out: impl Write, records: &[InputRecord], vectors: &Embeddings) -> Result<()> {
    for (record, row) in records.iter().zip(vectors.rows()) {
        let line = match &record.id {
            Some(id) => serde_json::json!({ "id": id, "embedding": row }),
            None => serde_json::json!({ "text": record.text, "embedding": row }),
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn write_npy(path: &Path, vectors: &Embeddings) -> Result<()> {
    let file = BufWriter::new(fs_err::File::create(path)?);
    let shape = [vectors.len() as u64, vectors.dim() as u64];
    use npyz::WriterBuilder;
    let mut writer = npyz::WriteOptions::<f32>::new()
        .default_dtype()
        .shape(&shape)
        .writer(file)
        .begin_nd()
        .with_context(|| format!("writing {}", path.display()))?;
    writer.extend(vectors.as_slice().iter().copied())?;
    writer
        .finish()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
