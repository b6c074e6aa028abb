//! Extractive answers: the sentences of the retrieved chunks that match the question best,
//! each followed by the number of the source it came from.

use std::collections::HashSet;

use bellhop_store::{Hit, Retriever};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Sources considered for sentences, best first.
const SOURCES_CONSIDERED: usize = 5;
/// Below this cosine, a passage that shares no word with the question is not taken as its
/// answer (all-MiniLM-L6-v2 scores unrelated text around 0.0–0.2, paraphrases above 0.4).
const MIN_FALLBACK_COSINE: f32 = 0.3;
/// An answer stops growing past this many characters.
const MAX_ANSWER_CHARS: usize = 600;

/// Words that say nothing about what a guest asks for.
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could", "do", "does",
    "for", "from", "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "of", "on", "or",
    "please", "should", "so", "tell", "that", "the", "there", "this", "to", "us", "was", "we",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// One source an answer cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation {
    /// The number the answer cites it by (`[1]` is 1).
    pub index: usize,
    /// The chunk.
    pub chunk_id: u64,
    /// Its document.
    pub document_id: String,
    /// The document's title.
    pub title: String,
    /// The chunk's section path.
    pub section: Vec<String>,
    /// Where the document came from.
    pub source: String,
    /// The retrieval score.
    pub score: f32,
    /// The chunk's text.
    pub text: String,
}

impl Citation {
    pub(crate) fn from_hit(index: usize, hit: &Hit) -> Self {
        Self {
            index,
            chunk_id: hit.chunk_id,
            document_id: hit.document_id.clone(),
            title: hit.title.clone(),
            section: hit.section.clone(),
            source: hit.source.clone(),
            score: hit.score,
            text: hit.text.clone(),
        }
    }
}

/// An answer with the sources it cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Answer {
    /// The answer text, citing sources as `[n]`.
    pub answer: String,
    /// The cited sources, by number.
    pub citations: Vec<Citation>,
    /// Which generator answered (`extractive`).
    pub generator: String,
    /// Whether a fallback answered instead of the generator asked for.
    pub degraded: bool,
    /// Why the answer is degraded.
    pub reason: Option<String>,
    /// Tokens of the model's prompt and answer (absent for extractive answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub usage: Option<bellhop_generate::Usage>,
}

/// The answer given when retrieval found nothing.
pub const NO_ANSWER: &str = "I could not find this in the knowledge base.";

fn stem(word: &str) -> String {
    let word = word.to_lowercase();
    for suffix in ["ing", "es", "ed", "s"] {
        if let Some(stripped) = word.strip_suffix(suffix)
            && stripped.chars().count() >= 3
        {
            return stripped.to_string();
        }
    }
    word
}

fn content_stems(text: &str) -> HashSet<String> {
    text.unicode_words()
        .filter(|word| !STOPWORDS.contains(&word.to_lowercase().as_str()))
        .map(stem)
        .collect()
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    // Records (menus, tables) put one field per line without a full stop.
    text.lines()
        .flat_map(|line| line.unicode_sentences())
        .map(str::trim)
        .filter(|sentence| sentence.chars().any(char::is_alphanumeric))
}

/// Splits text into pieces of a few words each (keeping the spaces), as a model streams its
/// tokens; used to stream answers that were not generated piece by piece.
pub fn text_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for (index, word) in text.split_inclusive(' ').enumerate() {
        current.push_str(word);
        if index % 4 == 3 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Answers `question` from `hits` (best first) with at most `max_sentences` sentences.
pub fn extractive_answer(question: &str, hits: &[Hit], max_sentences: usize) -> Answer {
    let wanted = content_stems(question);
    // (score, source rank, sentence order, sentence)
    let mut candidates: Vec<(f32, usize, usize, &str)> = Vec::new();
    for (rank, hit) in hits.iter().take(SOURCES_CONSIDERED).enumerate() {
        for (order, sentence) in sentences(&hit.text).enumerate() {
            let found = content_stems(sentence).intersection(&wanted).count();
            if found > 0 {
                let score = found as f32 / (wanted.len() as f32).sqrt() + 0.2 / (rank + 1) as f32;
                candidates.push((score, rank, order, sentence));
            }
        }
    }
    if candidates.is_empty() {
        // Dense retrieval matches meaning, not words: fall back to the best source's opening
        // when it is close enough in meaning.
        if let Some(top) = hits.first().filter(|top| {
            top.found_by.iter().any(|found| {
                found.retriever == Retriever::Dense && found.score >= MIN_FALLBACK_COSINE
            })
        }) {
            candidates.extend(
                sentences(&top.text)
                    .take(max_sentences.min(2))
                    .enumerate()
                    .map(|(order, sentence)| (0.0, 0, order, sentence)),
            );
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut chosen = Vec::new();
    let mut length = 0;
    for candidate in candidates {
        if chosen.len() == max_sentences.max(1)
            || (length > 0 && length + candidate.3.len() > MAX_ANSWER_CHARS)
        {
            break;
        }
        length += candidate.3.len();
        chosen.push(candidate);
    }
    // Read in source order, then in each source's own order.
    chosen.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)));
    let mut citations: Vec<Citation> = Vec::new();
    let mut parts = Vec::new();
    for (_, rank, _, sentence) in &chosen {
        let hit = &hits[*rank];
        let number = match citations.iter().find(|c| c.chunk_id == hit.chunk_id) {
            Some(citation) => citation.index,
            None => {
                citations.push(Citation::from_hit(citations.len() + 1, hit));
                citations.len()
            }
        };
        parts.push(format!("{sentence} [{number}]"));
    }
    Answer {
        answer: if parts.is_empty() {
            NO_ANSWER.to_string()
        } else {
            parts.join(" ")
        },
        citations,
        generator: "extractive".into(),
        degraded: false,
        reason: None,
        usage: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(chunk_id: u64, title: &str, text: &str) -> Hit {
        hit_with_cosine(chunk_id, title, text, 0.6)
    }

    fn hit_with_cosine(chunk_id: u64, title: &str, text: &str, cosine: f32) -> Hit {
        Hit {
            chunk_id,
            document_id: format!("doc-{chunk_id}"),
            title: title.into(),
            section: vec![title.into()],
            text: text.into(),
            source: "test".into(),
            metadata: Default::default(),
            score: 1.0 / chunk_id as f32,
            found_by: vec![bellhop_store::RetrieverMatch {
                retriever: Retriever::Dense,
                rank: 1,
                score: cosine,
            }],
        }
    }

    #[test]
    fn picks_matching_sentences_and_numbers_their_sources() {
        let hits = vec![
            hit(
                1,
                "Pool",
                "The hotel has a gym. The indoor pool is heated to 28 °C. Towels are provided.",
            ),
            hit(
                2,
                "Spa",
                "The spa opens at 09:00. The pool opens at 07:00 and closes at 22:00.",
            ),
        ];
        let answer = extractive_answer("Is the pool heated? When does the pool open?", &hits, 2);
        assert_eq!(
            answer.answer,
            "The indoor pool is heated to 28 °C. [1] The pool opens at 07:00 and closes at 22:00. [2]"
        );
        assert_eq!(answer.citations.len(), 2);
        assert_eq!(answer.citations[1].chunk_id, 2);
        assert_eq!(answer.generator, "extractive");
    }

    #[test]
    fn falls_back_to_the_best_source_and_says_when_nothing_was_found() {
        let hits = vec![hit(
            3,
            "Pets",
            "Dogs up to 15 kg are welcome. A fee applies.",
        )];
        let answer = extractive_answer("animals allowed?", &hits, 3);
        assert!(
            answer
                .answer
                .starts_with("Dogs up to 15 kg are welcome. [1]")
        );
        let unrelated = vec![hit_with_cosine(4, "Pool", "The pool opens at 07:00.", 0.12)];
        let answer = extractive_answer("capital of Peru?", &unrelated, 3);
        assert_eq!(answer.answer, NO_ANSWER);
        assert!(answer.citations.is_empty());
        let none = extractive_answer("anything", &[], 3);
        assert_eq!(none.answer, NO_ANSWER);
        assert!(none.citations.is_empty());
    }
}
