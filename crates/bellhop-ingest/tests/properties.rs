//! Properties of the readers and the chunker over generated input: every reader turns any
//! bytes into documents or a malformed-file error naming the file, never a panic; chunks
//! never exceed the token limit as the real model's tokenizer counts, and lose no text.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bellhop_embed::{Embedder, EmbedderOptions, ModelSource};
use bellhop_ingest::{
    Block, Chunker, ChunkingOptions, Format, ModelTokens, ParsedDocument, ReadError, ReadOptions,
    read_document_bytes,
};
use proptest::prelude::*;

const FORMATS: &[(Format, &str)] = &[
    (Format::Text, "notes.txt"),
    (Format::Markdown, "notes.md"),
    (Format::Html, "page.html"),
    (Format::Pdf, "brochure.pdf"),
    (Format::Csv, "menu.csv"),
    (Format::Json, "rooms.json"),
    (Format::JsonLines, "rooms.jsonl"),
];

/// Reads `bytes` as `format`; a reader may refuse them, but only as malformed, naming the
/// file, and what it accepts holds no empty block.
fn read_checked(bytes: &[u8], format: Format, name: &str, options: &ReadOptions) {
    match read_document_bytes(bytes, name, format, options) {
        Ok(documents) => {
            for document in documents {
                assert!(!document.id.is_empty(), "{name}: a document without an id");
                for block in &document.blocks {
                    assert!(
                        !block.text.trim().is_empty(),
                        "{name}: an empty block in {document:?}"
                    );
                }
            }
        }
        Err(ReadError::Malformed {
            name: named,
            reason,
        }) => {
            assert_eq!(named, name);
            assert!(!reason.is_empty(), "{name}: an error without a reason");
        }
        Err(other) => panic!("{name}: not a malformed-file error: {other:?}"),
    }
}

/// Text made of pieces that matter to `format`'s syntax, among words and odd characters.
fn syntax_soup(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    const COMMON: &[&str] = &[
        "pool",
        "Zimmer",
        "プール",
        "🏊",
        "e\u{301}",
        "\u{feff}",
        "\u{0}",
        "\t",
        " ",
        "  ",
        "\n",
        "\r\n",
        "\n\n",
        "12",
        "-3.5",
        "true",
        ";",
        ",",
        "\"",
        "'",
        "\\",
        "<",
        ">",
        "&",
        "#",
    ];
    let piece = prop_oneof![prop::sample::select(COMMON), prop::sample::select(pieces),];
    prop::collection::vec(piece, 0..200).prop_map(|pieces| pieces.concat())
}

const MARKDOWN: &[&str] = &[
    "# ",
    "## ",
    "###### ",
    "> ",
    ">>>> ",
    "- ",
    "1. ",
    "```",
    "```rust\n",
    "    ",
    "| a | b |\n",
    "|---|---|\n",
    "*",
    "**",
    "_",
    "[link](http://x)",
    "![img](y.png)",
    "<div>",
    "</div>",
    "---\n",
    "[^1]",
    "\\",
];

const HTML: &[&str] = &[
    "<p>",
    "</p>",
    "<div>",
    "</div>",
    "<div class=\"cookie-banner\">",
    "<main>",
    "</main>",
    "<h1>",
    "</h1>",
    "<h3>",
    "<table>",
    "</table>",
    "<thead>",
    "<tr>",
    "</tr>",
    "<th>",
    "<td>",
    "</td>",
    "<ul><li>",
    "<br>",
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "&amp;",
    "&#x1F30A;",
    "&bogus;",
    "<title>",
    "</title>",
    "<![CDATA[",
    "<svg>",
    "<template>",
    "</",
];

const PDF: &[&str] = &[
    "1 0 obj\n",
    "endobj\n",
    "<<",
    ">>",
    "/Type /Catalog",
    "/Type /Page",
    "/Pages 2 0 R",
    "/Kids [3 0 R]",
    "/Count 1",
    "/Length 44",
    "stream\n",
    "\nendstream\n",
    "BT /F1 12 Tf (Hello) Tj ET",
    "xref\n0 4\n",
    "0000000000 65535 f \n",
    "trailer\n<< /Root 1 0 R /Size 4 >>\n",
    "startxref\n",
    "%%EOF",
    "[",
    "]",
    "(",
    ")",
    "/Filter /FlateDecode",
];

/// A CSV of a header and rows whose fields may be quoted, lists, numbers or broken.
fn csv_table() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        prop::sample::select(
            &[
                "id",
                "name",
                "price",
                "tags",
                "1",
                "2",
                "18.50",
                "-0",
                "1e3",
                "true",
                "",
                " ",
                "gluten;egg",
                "a;b;c",
                "\"quoted, with comma\"",
                "\"half",
                "line\nbreak",
                "\"\"",
                "Zimmer 🏨",
            ][..]
        )
        .prop_map(str::to_string),
        "[a-z0-9 ;]{0,12}",
    ];
    let row = prop::collection::vec(field, 1..6).prop_map(|fields| fields.join(","));
    prop::collection::vec(row, 0..12).prop_map(|rows| rows.join("\n"))
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(&["", "id", "text", "title", "pool", "The pool is heated."][..])
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(
                    &[
                        "id", "_id", "text", "title", "name", "body", "content", "items", "data",
                        "tags", "metadata", "x"
                    ][..]
                )
                .prop_map(str::to_string),
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_read_or_refused_by_every_reader(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for &(format, name) in FORMATS {
            read_checked(&bytes, format, name, &ReadOptions::default());
        }
    }

    #[test]
    fn text_and_markdown_syntax_never_panics(text in syntax_soup(MARKDOWN)) {
        read_checked(text.as_bytes(), Format::Text, "notes.txt", &ReadOptions::default());
        read_checked(text.as_bytes(), Format::Markdown, "notes.md", &ReadOptions::default());
    }

    #[test]
    fn html_syntax_never_panics(text in syntax_soup(HTML)) {
        read_checked(text.as_bytes(), Format::Html, "page.html", &ReadOptions::default());
    }

    #[test]
    fn csv_tables_are_read_or_refused(
        table in csv_table(),
        text_column in prop::option::of(prop::sample::select(&["name", "price", "missing"][..])),
        id_field in prop::option::of(prop::sample::select(&["id", "name", "missing"][..])),
    ) {
        let options = ReadOptions {
            text_columns: text_column.map(str::to_string).into_iter().collect(),
            list_columns: Vec::new(),
            id_field: id_field.map(str::to_string),
        };
        read_checked(table.as_bytes(), Format::Csv, "menu.csv", &options);
    }

    #[test]
    fn json_of_any_shape_is_read_or_refused(
        values in prop::collection::vec(json_value(), 1..4),
        garbage in prop::sample::select(&["", "{", "]", "nul", "\"open", "{} {}"][..]),
    ) {
        let one = serde_json::to_string(&values[0]).unwrap();
        read_checked(one.as_bytes(), Format::Json, "rooms.json", &ReadOptions::default());
        let broken = format!("{one}{garbage}");
        read_checked(broken.as_bytes(), Format::Json, "rooms.json", &ReadOptions::default());
        let mut lines: Vec<String> = values
            .iter()
            .map(|value| serde_json::to_string(value).unwrap())
            .collect();
        lines.push(garbage.to_string());
        let lines = lines.join("\n");
        read_checked(lines.as_bytes(), Format::JsonLines, "rooms.jsonl", &ReadOptions::default());
    }
}

proptest! {
    // The PDF parser is the slowest reader; fewer cases keep the suite quick.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pdf_structure_never_panics(body in syntax_soup(PDF)) {
        let bytes = format!("%PDF-1.4\n{body}");
        read_checked(bytes.as_bytes(), Format::Pdf, "brochure.pdf", &ReadOptions::default());
    }
}

fn model_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2");
    assert!(
        dir.join("tokenizer.json").is_file(),
        "run scripts/fetch-model.sh first"
    );
    dir
}

/// The model the chunker counts with, as the ingest pipeline does.
fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    Arc::clone(EMBEDDER.get_or_init(|| {
        Arc::new(
            Embedder::load_with(&ModelSource::Dir(model_dir()), &EmbedderOptions::default())
                .expect("the model loads"),
        )
    }))
}

/// The same tokenizer with nothing truncated: what a chunk really holds.
fn full_tokenizer() -> &'static tokenizers::Tokenizer {
    static TOKENIZER: OnceLock<tokenizers::Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let mut tokenizer =
            tokenizers::Tokenizer::from_file(model_dir().join("tokenizer.json")).unwrap();
        tokenizer.with_truncation(None).unwrap();
        tokenizer.with_padding(None);
        tokenizer
    })
}

fn full_tokens(text: &str) -> usize {
    full_tokenizer()
        .encode(text.trim(), true)
        .unwrap()
        .get_ids()
        .len()
}

/// Words of every kind the tokenizer splits differently: short, long, compound, numeric,
/// non-Latin, emoji, and unbroken runs (a URL, a hash).
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&[
            "the", "pool", "is", "heated", "to", "28", "°C", "Check-in", "starts", "at",
            "15:00.", "Frühstück", "gibt", "es", "ab", "7", "Uhr.", "朝食は", "7時から。",
            "🏊‍♀️", "Wi-Fi", "EUR", "30,", "(extra)", "café", "naïve", "Ελληνικά", "—",
        ][..]).prop_map(str::to_string),
        1 => "[a-z]{20,300}",
        1 => "https://[a-z]{5,40}\\.example/[a-z0-9/?=&]{10,200}",
        1 => "[0-9a-f]{64,400}",
        1 => "[ぁ-ん]{10,200}",
    ]
}

fn paragraph() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            word(),
            prop::sample::select(&[" ", " ", " ", ". ", "! ", "\n"][..]),
        ),
        1..120,
    )
    .prop_map(|words| {
        words
            .into_iter()
            .map(|(word, separator)| format!("{word}{separator}"))
            .collect::<String>()
            .trim()
            .to_string()
    })
}

fn document() -> impl Strategy<Value = ParsedDocument> {
    let section = prop::collection::vec(
        prop::sample::select(&["Pool", "Opening hours", "", "Spa & Wellness", "朝食"][..])
            .prop_map(str::to_string),
        0..3,
    );
    let title = prop_oneof![
        Just(String::new()),
        paragraph().prop_map(|p| p.chars().take(80).collect())
    ];
    // Records (table rows, chunked on their own) among the paragraphs.
    (
        title,
        prop::collection::vec((section, paragraph(), any::<bool>()), 1..6),
    )
        .prop_map(|(title, blocks)| ParsedDocument {
            id: "doc".into(),
            title,
            source: "doc.txt".into(),
            metadata: Default::default(),
            blocks: blocks
                .into_iter()
                .map(|(section, text, record)| Block {
                    section,
                    text,
                    record,
                })
                .collect(),
        })
}

/// Non-whitespace characters and how often each occurs.
fn characters(texts: impl IntoIterator<Item = impl AsRef<str>>) -> HashMap<char, usize> {
    let mut counts = HashMap::new();
    for text in texts {
        for c in text.as_ref().chars().filter(|c| !c.is_whitespace()) {
            *counts.entry(c).or_default() += 1;
        }
    }
    counts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn chunks_fit_the_model_and_keep_every_character(
        document in document(),
        max_tokens in prop_oneof![Just(256usize), 8usize..256],
        overlap_tokens in 0usize..64,
        context_header in any::<bool>(),
    ) {
        let embedder = embedder();
        let counter = ModelTokens(&embedder);
        let options = ChunkingOptions { max_tokens, overlap_tokens, context_header };
        let chunks = Chunker::new(options, &counter).chunk(&document);
        prop_assert!(!chunks.is_empty());
        for chunk in &chunks {
            let tokens = full_tokens(&chunk.embedding_text);
            prop_assert!(
                tokens <= max_tokens.max(8),
                "{tokens} tokens over the limit of {max_tokens}: {:?}",
                chunk.embedding_text
            );
            prop_assert!(!chunk.text.trim().is_empty());
        }
        let before = characters(document.blocks.iter().map(|block| &block.text));
        let after = characters(chunks.iter().map(|chunk| &chunk.text));
        for (c, count) in before {
            let kept = after.get(&c).copied().unwrap_or(0);
            prop_assert!(kept >= count, "{c:?}: {count} in the document, {kept} in its chunks");
        }
    }
}
