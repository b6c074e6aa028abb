//! Extractive answers: the sentences of the retrieved chunks that match the question best,
//! each followed by the number of the source it came from.

use std::collections::{HashMap, HashSet};

use bellhop_store::{Hit, Retriever};

use crate::answerability::{Vocabulary, WordSet};
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// Sources considered for sentences, best first.
const SOURCES_CONSIDERED: usize = 5;
/// Below this cosine, a passage that shares no word with the question is not taken as its
/// answer (all-MiniLM-L6-v2 scores unrelated text around 0.0–0.2, paraphrases above 0.4).
const MIN_FALLBACK_COSINE: f32 = 0.3;
/// Sources closest in meaning whose sentences may answer a question that shares no word with
/// any source.
const KIND_FALLBACK_SOURCES: usize = 3;
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
pub struct Answer {
    /// The answer text, citing sources as `[n]`.
    pub answer: String,
    /// The cited sources, by number.
    pub citations: Vec<Citation>,
    /// Which generator answered (`extractive`).
    pub generator: String,
    /// Whether the sources do not hold the answer: the text is the collection's fallback
    /// and nothing is cited.
    #[serde(default)]
    pub abstained: bool,
    /// Whether a fallback answered instead of the generator asked for.
    pub degraded: bool,
    /// Why the answer is degraded.
    pub reason: Option<String>,
    /// Tokens of the model's prompt and answer (absent for extractive answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<bellhop_generate::Usage>,
}

impl Answer {
    /// The language the answer is written in (ISO 639-1), when it can be told: a model
    /// answers in the question's, an extractive answer quotes its sources as they are, and
    /// an abstention is in the fallback text's.
    pub fn language(&self) -> Option<String> {
        let (plain, _) = crate::grounding::split_citations(&self.answer);
        crate::language::detect_language(&plain)
    }
}

/// The answer given when retrieval found nothing.
pub const NO_ANSWER: &str = "I could not find this in the knowledge base.";

/// What an abstained answer says when its collection sets no fallback text.
pub const DEFAULT_FALLBACK: &str =
    "I'm sorry, I don't have that information. Please ask a member of staff.";

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

/// A `key: value` line of a record (a CSV row, a JSON record): a short key, then a value.
fn field(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(": ")?;
    let key = key.trim();
    let value = value.trim();
    let short_key = !key.is_empty()
        && key.chars().count() <= 40
        && key.split_whitespace().count() <= 4
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '/' | '(' | ')'));
    (short_key && !value.is_empty()).then_some((key, value))
}

/// Fields whose values read as the record's prose, shown without their key.
const PROSE_FIELDS: &[&str] = &[
    "description",
    "text",
    "content",
    "body",
    "details",
    "notes",
    "summary",
    "answer",
];
/// Fields that name the record, shown first.
const NAME_FIELDS: &[&str] = &["name", "title", "dish", "item", "question"];

/// A chunk that is one record, rendered as one readable line ("Apfelstrudel: warm apple
/// strudel with walnuts; price 9.50; allergens gluten, dairy"), so that an answer never cuts
/// a record apart or repeats one of its fields alone.
fn record_line(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let fields: Vec<(&str, &str)> = lines.iter().filter_map(|line| field(line)).collect();
    if fields.len() < 2 || fields.len() * 5 < lines.len() * 4 {
        return None;
    }
    let is = |key: &str, names: &[&str]| {
        let key = key.to_lowercase().replace(['_', '-'], " ");
        names.iter().any(|name| key == *name)
    };
    let name = fields.iter().position(|(key, _)| is(key, NAME_FIELDS));
    let mut head = name.map(|index| fields[index].1.to_string());
    let mut parts = Vec::new();
    for (index, (key, value)) in fields.iter().enumerate() {
        if Some(index) == name {
            continue;
        }
        if is(key, PROSE_FIELDS) {
            parts.insert(0, value.trim_end_matches('.').to_string());
        } else if head.is_none() {
            head = Some(format!("{key}: {value}"));
        } else {
            parts.push(format!("{} {value}", key.replace('_', " ")));
        }
    }
    let head = head?;
    Some(if parts.is_empty() {
        head
    } else {
        format!("{head}: {}", parts.join("; "))
    })
}

/// The passages an answer may quote from a chunk: the record as one line, or its sentences.
pub(crate) fn sentences(text: &str) -> Vec<String> {
    if let Some(line) = record_line(text) {
        return vec![line];
    }
    // Lists and tables put one item per line without a full stop.
    text.lines()
        .flat_map(|line| line.unicode_sentences())
        .map(str::trim)
        .filter(|sentence| sentence.chars().any(char::is_alphanumeric))
        .map(str::to_string)
        .collect()
}

/// Whether two sentences say the same: most of the smaller one's content words are in the
/// other.
fn same_fact(a: &HashSet<String>, b: &HashSet<String>) -> bool {
    let smaller = a.len().min(b.len());
    smaller > 0 && a.intersection(b).count() * 10 >= smaller * 7
}

/// What kind of fact a question asks for, when its wording says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnswerKind {
    /// A clock time or hours ("when", "what time", "open").
    Time,
    /// An amount of money ("how much", "price", "cost").
    Price,
    /// A count, size or age ("how many", "how old", "age").
    Number,
}

pub(crate) fn answer_kind(question: &str) -> Option<AnswerKind> {
    // Whole words only: "charger" asks for no charge.
    let words: Vec<String> = question
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '\'' | ':')))
        .map(|word| word.trim_matches(':').to_string())
        .filter(|word| !word.is_empty())
        .collect();
    let question = format!(" {} ", words.join(" "));
    let has = |cues: &[&str]| {
        cues.iter().any(|cue| {
            let cue = cue.trim();
            question.contains(&format!(" {cue} ")) || question.contains(&format!(" {cue}s "))
        })
    };
    // What the question asks in so many words comes first; then the guest's own age or clock
    // time; then words of things that have a price or a time, which a question may name while
    // asking something else of them ("im 17, can i check in on my own" asks an age).
    if has(&["how much", "how expensive", "how cheap"]) {
        Some(AnswerKind::Price)
    } else if has(&["what time", "when's", "what hours", "how late", "how early"])
        || asks_when(&words)
    {
        Some(AnswerKind::Time)
    } else if has(&["how many", "how old", "how big", "how far", "how long"])
        || states_an_age(&words)
    {
        Some(AnswerKind::Number)
    } else if words.iter().any(|word| is_clock_time(word)) {
        Some(AnswerKind::Time)
    } else if has(&[
        "price",
        "cost",
        "charge",
        "charged",
        "fee",
        "expensive",
        "cheap",
    ]) {
        Some(AnswerKind::Price)
    } else if has(&[
        "hours",
        "open",
        "opening",
        "close",
        "closing",
        "until",
        "late",
        "latest",
        "early",
        "earliest",
        "check-in",
        "check in",
        "checkout",
        "check out",
        "check-out",
    ]) {
        Some(AnswerKind::Time)
    } else if has(&["age", "minimum"]) {
        Some(AnswerKind::Number)
    } else {
        OTHER_LANGUAGE_CUES
            .iter()
            .find(|(_, spaced, unspaced)| {
                has(spaced) || unspaced.iter().any(|cue| question.contains(cue))
            })
            .map(|(kind, _, _)| *kind)
    }
}

/// The words that ask for a price, a time or a number in the languages guests other than
/// English write in most, in the order they are tried (a price before a number: "多少钱" holds
/// "多少"). Whole words where a language puts spaces between them, parts of the question in
/// Chinese and Japanese, which do not. A question in another language than the sources'
/// shares none of their words, so what it asks for is how its answer is found among the
/// sources closest to it in meaning.
const OTHER_LANGUAGE_CUES: &[(AnswerKind, &[&str], &[&str])] = &[
    (
        AnswerKind::Price,
        &[
            // German, Dutch
            "kostet", "kosten", "preis", "gebühr", "kost", "prijs",
            // Spanish, Portuguese
            "cuesta", "cuestan", "precio", "tarifa", "custa", "custam", "preço",
            // French, Italian
            "coûte", "coûtent", "prix", "tarif", "costa", "costano", "prezzo", "tariffa",
        ],
        &[
            "多少钱",
            "价格",
            "价钱",
            "费用",
            "收费",
            "いくら",
            "料金",
            "値段",
            "価格",
        ],
    ),
    (
        AnswerKind::Time,
        &[
            "wann",
            "uhrzeit",
            "uhr",
            "öffnungszeiten",
            "geöffnet",
            "hoe laat",
            "wanneer",
            "openingstijden",
            "qué hora",
            "cuándo",
            "horario",
            "que horas",
            "quando",
            "horário",
            "quelle heure",
            "quand",
            "horaires",
            "che ora",
            "orario",
            "orari",
        ],
        &[
            "几点",
            "什么时候",
            "时间",
            "营业",
            "何時",
            "いつ",
            "時間",
            "営業",
        ],
    ),
    (
        AnswerKind::Number,
        &[
            "wie viele",
            "wie alt",
            "nummer",
            "telefonnummer",
            "durchwahl",
            "hoeveel",
            "telefoonnummer",
            "cuántos",
            "cuántas",
            "número",
            "teléfono",
            "extensión",
            "quantos",
            "quantas",
            "telefone",
            "combien de",
            "numéro",
            "téléphone",
            "quel âge",
            "quanti",
            "quante",
            "numero",
            "telefono",
            "interno",
        ],
        &[
            "多少", "号码", "电话", "几个", "几岁", "何番", "番号", "電話", "何人", "何歳",
        ],
    ),
];

/// Whether a question asks "when": the word first, or before a verb that asks ("so when
/// is breakfast"), not joining two clauses ("what do we do when the alarm goes").
fn asks_when(words: &[String]) -> bool {
    const ASKING: &[&str] = &[
        "is", "are", "does", "do", "did", "can", "could", "will", "would", "should", "shall",
        "was", "were", "has", "have",
    ];
    words.first().is_some_and(|word| word == "when")
        || words
            .windows(2)
            .any(|pair| pair[0] == "when" && ASKING.contains(&pair[1].as_str()))
}

/// Whether a question gives the asker's age ("im 17", "my 8 yr old", "a 5-year-old").
fn states_an_age(words: &[String]) -> bool {
    let number = |word: &str| !word.is_empty() && word.chars().all(|c| c.is_ascii_digit());
    words.windows(2).any(|pair| {
        let (first, second) = (pair[0].as_str(), pair[1].as_str());
        (matches!(first, "im" | "i'm" | "am" | "aged") && number(second))
            || (number(first)
                && matches!(
                    second,
                    "yo" | "yr" | "yrs" | "year" | "years" | "year-old" | "years-old"
                ))
    }) || words.iter().any(|word| {
        word.split_once('-').is_some_and(|(count, rest)| {
            number(count) && (rest.starts_with("year") || rest.starts_with("yr"))
        })
    })
}

/// Whether a word is a clock time ("8am", "17:00", "7pm").
fn is_clock_time(word: &str) -> bool {
    let digits = word.trim_end_matches("am").trim_end_matches("pm");
    let hour_and_minutes = digits.split_once(':').is_some_and(|(hour, minutes)| {
        (1..=2).contains(&hour.len())
            && minutes.len() == 2
            && hour
                .chars()
                .chain(minutes.chars())
                .all(|c| c.is_ascii_digit())
    });
    let hour_only = digits.len() < word.len()
        && (1..=2).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit());
    hour_and_minutes || hour_only
}

/// The dense retriever's cosine of a hit, when it found it.
fn dense_cosine(hit: &Hit) -> Option<f32> {
    hit.found_by
        .iter()
        .find(|found| found.retriever == Retriever::Dense)
        .map(|found| found.score)
}

/// Whether a sentence states a fact of `kind`.
pub(crate) fn states(sentence: &str, kind: AnswerKind) -> bool {
    let bytes = sentence.as_bytes();
    let digit_at = |index: usize| bytes.get(index).is_some_and(u8::is_ascii_digit);
    match kind {
        AnswerKind::Time => {
            (0..bytes.len()).any(|i| {
                matches!(bytes[i], b':' | b'.')
                    && digit_at(i.wrapping_sub(1))
                    && digit_at(i + 1)
                    && digit_at(i + 2)
            }) || {
                let lower = sentence.to_lowercase();
                ["a.m.", "p.m.", " am", " pm", "midnight", "noon", "24 hours"]
                    .iter()
                    .any(|marker| lower.contains(marker))
            }
        }
        AnswerKind::Price => {
            sentence.contains(['€', '$', '£'])
                || ["eur", "usd", "gbp", "free", "charge", "price"]
                    .iter()
                    .any(|marker| sentence.to_lowercase().contains(marker))
        }
        AnswerKind::Number => sentence.chars().any(|c| c.is_ascii_digit()),
    }
}

/// The numbers a sentence states (prices, times, counts), for telling its fact apart.
fn numbers(sentence: &str) -> HashSet<String> {
    sentence
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .map(|token| token.trim_matches(['.', ':']))
        .filter(|token| token.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
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

/// Each key term's weight in choosing sentences: its inverse document frequency in the
/// collection, scaled so that the question's terms weigh 1 on average (all 1 without a
/// vocabulary). BM25's weighting, over the collection the answer quotes from.
fn term_weights(terms: &[String], vocabulary: Option<&Vocabulary>) -> HashMap<String, f32> {
    let Some(vocabulary) = vocabulary.filter(|_| !terms.is_empty()) else {
        return terms.iter().map(|term| (term.clone(), 1.0)).collect();
    };
    let idf: Vec<f32> = terms
        .iter()
        .map(|term| vocabulary.inverse_document_frequency(term))
        .collect();
    let mean = idf.iter().sum::<f32>() / idf.len() as f32;
    terms
        .iter()
        .zip(idf)
        .map(|(term, idf)| (term.clone(), if mean > 0.0 { idf / mean } else { 1.0 }))
        .collect()
}

/// One sentence an answer may say.
struct Candidate {
    score: f32,
    /// The rank of its source among the hits.
    rank: usize,
    /// Its place in its source.
    order: usize,
    text: String,
    /// The question's stems it contains.
    covers: HashSet<String>,
}

/// Answers `question` from `hits` (best first) with at most `max_sentences` sentences, the
/// most direct first (a time for "when", an amount for "how much" scores higher); a fact the
/// sources state twice is said once, citing both. With the collection's `vocabulary`, a
/// question's rarer words weigh more in choosing sentences than the ones most of its texts
/// use ("charger" over "room").
pub fn extractive_answer(
    question: &str,
    hits: &[Hit],
    max_sentences: usize,
    vocabulary: Option<&Vocabulary>,
) -> Answer {
    let asked = crate::answerability::key_terms(question);
    let wanted: HashSet<String> = asked.iter().cloned().collect();
    let weights = term_weights(&asked, vocabulary);
    let weight = |term: &String| weights.get(term).copied().unwrap_or(1.0);
    let least_weight = weights.values().copied().reduce(f32::min).unwrap_or(1.0);
    let kind = answer_kind(question);
    let mut candidates: Vec<Candidate> = Vec::new();
    for (rank, hit) in hits.iter().take(SOURCES_CONSIDERED).enumerate() {
        // A sentence under the "Wi-Fi" heading answers "wifi not working, who do I call"
        // without naming the Wi-Fi again.
        let heading_words = WordSet::of(&format!("{} {}", hit.title, hit.section.join(" ")));
        let mut previous_matched = false;
        for (order, sentence) in sentences(&hit.text).into_iter().enumerate() {
            // A question (an FAQ's own) is never an answer.
            if sentence.ends_with('?') {
                previous_matched = false;
                continue;
            }
            // Matched as the answerability decision matches them: typos, shortenings and
            // other forms of a word count.
            let sentence_words = WordSet::of(&sentence);
            let covers: HashSet<String> = wanted
                .iter()
                .filter(|term| sentence_words.contains(term))
                .cloned()
                .collect();
            let of_kind = kind.is_some_and(|kind| states(&sentence, kind));
            // A sentence that shares no word with the question still answers it when it
            // states the fact asked for right after one that does ("Breakfast is in the
            // restaurant. It is served from 07:00 to 10:30.").
            let matched = !covers.is_empty();
            if matched || (of_kind && previous_matched) {
                let under_heading: f32 = wanted
                    .iter()
                    .filter(|term| !covers.contains(*term) && heading_words.contains(term))
                    .map(weight)
                    .sum();
                let covered = if covers.is_empty() {
                    least_weight
                } else {
                    covers.iter().map(weight).sum()
                };
                let score = (covered + 0.5 * under_heading) / (wanted.len() as f32).sqrt()
                    + if of_kind { 0.5 } else { 0.0 }
                    + 0.2 / (rank + 1) as f32;
                candidates.push(Candidate {
                    score,
                    rank,
                    order,
                    text: sentence,
                    covers,
                });
            }
            previous_matched = matched;
        }
    }
    // Sentences matched by meaning alone are less sure: fewer of them are said.
    let by_meaning_alone = candidates.is_empty();
    let most_sentences = if by_meaning_alone {
        max_sentences.clamp(1, 2)
    } else {
        max_sentences.max(1)
    };
    if by_meaning_alone && let Some(kind) = kind {
        // Dense retrieval matches meaning, not words: a question that shares no word with the
        // sources (in another language, with a multilingual model) is answered by the
        // sentences of the sources closest in meaning that state what it asks for.
        let mut close: Vec<(usize, f32)> = hits
            .iter()
            .take(SOURCES_CONSIDERED)
            .enumerate()
            .filter_map(|(rank, hit)| dense_cosine(hit).map(|cosine| (rank, cosine)))
            .filter(|(_, cosine)| *cosine >= MIN_FALLBACK_COSINE)
            .collect();
        close.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (rank, cosine) in close.into_iter().take(KIND_FALLBACK_SOURCES) {
            candidates.extend(
                sentences(&hits[rank].text)
                    .into_iter()
                    .enumerate()
                    .filter(|(_, sentence)| !sentence.ends_with('?') && states(sentence, kind))
                    .map(|(order, text)| Candidate {
                        score: cosine - order as f32 * 1e-3,
                        rank,
                        order,
                        covers: HashSet::new(),
                        text,
                    }),
            );
        }
    }
    if candidates.is_empty() {
        // Else the best source's opening, when it is close enough in meaning.
        if let Some(top) = hits
            .first()
            .filter(|top| dense_cosine(top).is_some_and(|cosine| cosine >= MIN_FALLBACK_COSINE))
        {
            candidates.extend(
                sentences(&top.text)
                    .into_iter()
                    .take(most_sentences)
                    .enumerate()
                    .map(|(order, text)| Candidate {
                        score: -(order as f32),
                        rank: 0,
                        order,
                        covers: HashSet::new(),
                        text,
                    }),
            );
        }
    }
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.rank.cmp(&b.rank))
            .then(a.order.cmp(&b.order))
    });
    // (sentence, its content stems, the ranks of the sources that state it)
    let mut chosen: Vec<(&Candidate, HashSet<String>, Vec<usize>)> = Vec::new();
    let detail = |text: &str, stems: &HashSet<String>| (numbers(text).len(), stems.len());
    let mut length = 0;
    for candidate in &candidates {
        let stems = content_stems(&candidate.text);
        let facts = numbers(&candidate.text);
        // The same fact from another source (the FAQ and the topic page) is said once and
        // cited twice.
        if let Some((said, said_stems, ranks)) = chosen.iter_mut().find(|(said, said_stems, _)| {
            same_fact(said_stems, &stems)
                || (said.covers == candidate.covers
                    && !facts.is_empty()
                    && !numbers(&said.text).is_disjoint(&facts))
        }) {
            // Said once, in the words that hold more of it: "Coastline Mobility Taxis
            // (+353 41 555 7345) have wheelchair-accessible vehicles" over "Wheelchair-accessible
            // taxis".
            if detail(&candidate.text, &stems) > detail(&said.text, said_stems)
                && candidate.covers.is_superset(&said.covers)
            {
                length = length + candidate.text.len() - said.text.len();
                *said = candidate;
                *said_stems = stems.clone();
            }
            if !ranks.contains(&candidate.rank)
                && ranks
                    .iter()
                    .all(|&rank| hits[rank].chunk_id != hits[candidate.rank].chunk_id)
            {
                ranks.push(candidate.rank);
            }
            continue;
        }
        if chosen.len() == most_sentences
            || (length > 0 && length + candidate.text.len() > MAX_ANSWER_CHARS)
        {
            break;
        }
        length += candidate.text.len();
        chosen.push((candidate, stems, vec![candidate.rank]));
    }
    // A question that asks two things is answered in the order it asks them.
    if chosen.len() > 1 {
        let shared: HashSet<String> = chosen
            .iter()
            .map(|(candidate, _, _)| candidate.covers.clone())
            .reduce(|a, b| a.intersection(&b).cloned().collect())
            .unwrap_or_default();
        let first_asked = |candidate: &Candidate| {
            asked
                .iter()
                .position(|stem| candidate.covers.contains(stem) && !shared.contains(stem))
                .unwrap_or(usize::MAX)
        };
        // Stable: sentences that answer no distinct part keep their order of directness.
        chosen.sort_by_key(|(candidate, _, _)| first_asked(candidate));
    }
    let mut citations: Vec<Citation> = Vec::new();
    let mut parts = Vec::new();
    for (candidate, _, ranks) in &chosen {
        let mut numbers = String::new();
        for &rank in ranks {
            let hit = &hits[rank];
            let number = match citations.iter().find(|c| c.chunk_id == hit.chunk_id) {
                Some(citation) => citation.index,
                None => {
                    citations.push(Citation::from_hit(citations.len() + 1, hit));
                    citations.len()
                }
            };
            numbers.push_str(&format!("[{number}]"));
        }
        parts.push(format!("{} {numbers}", candidate.text));
    }
    Answer {
        answer: if parts.is_empty() {
            NO_ANSWER.to_string()
        } else {
            parts.join(" ")
        },
        citations,
        generator: "extractive".into(),
        abstained: false,
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
        let answer = extractive_answer(
            "Is the pool heated? When does the pool open?",
            &hits,
            2,
            None,
        );
        assert_eq!(
            answer.answer,
            "The indoor pool is heated to 28 °C. [1] The pool opens at 07:00 and closes at 22:00. [2]"
        );
        assert_eq!(answer.citations.len(), 2);
        assert_eq!(answer.citations[1].chunk_id, 2);
        assert_eq!(answer.generator, "extractive");
    }

    #[test]
    fn a_question_in_another_language_is_answered_by_the_closest_sentences_of_its_kind() {
        let hits = vec![
            hit_with_cosine(
                1,
                "Taxis",
                "Reception can call a taxi for you at any time. Port Alden Taxis: +353 41 555 7000.",
                0.52,
            ),
            hit_with_cosine(
                2,
                "Check-out",
                "Check-out is by 11:00. Late check-out costs EUR 20.",
                0.41,
            ),
            hit_with_cosine(3, "Spa", "The spa opens at 09:00.", 0.2),
        ];
        // "The taxi company's phone number, please": a number, from the closest source first,
        // and at most two sentences.
        let taxi = extractive_answer("タクシー会社の電話番号を教えてください。", &hits, 3, None);
        assert_eq!(
            taxi.answer,
            "Port Alden Taxis: +353 41 555 7000. [1] Check-out is by 11:00. [2]"
        );
        // "At what time must we leave the room?": a time, from the source that states one,
        // and not from the one too far in meaning.
        let checkout =
            extractive_answer("¿A qué hora hay que dejar la habitación?", &hits, 3, None);
        assert_eq!(checkout.answer, "Check-out is by 11:00. [1]");
        assert_eq!(checkout.citations[0].chunk_id, 2);
        // Asking nothing it can tell, it is still answered by the closest source's opening.
        let open = extractive_answer("Gibt es hier einen Fahrdienst?", &hits, 3, None);
        assert!(
            open.answer.starts_with("Reception can call a taxi"),
            "{}",
            open.answer
        );
    }

    #[test]
    fn a_sentence_answers_the_words_of_its_heading() {
        let mut wifi = hit(
            2,
            "Wi-Fi",
            "Still not working: call our IT helpdesk on extension 150.",
        );
        wifi.section = vec!["Wi-Fi".into(), "Troubleshooting".into()];
        let hits = vec![
            hit(
                1,
                "Housekeeping",
                "If something is not working, call Housekeeping on extension 200.",
            ),
            wifi,
        ];
        let answer = extractive_answer("wifi not workin who do i call", &hits, 1, None);
        assert!(answer.answer.contains("150"), "{}", answer.answer);
    }

    #[test]
    fn falls_back_to_the_best_source_and_says_when_nothing_was_found() {
        let hits = vec![hit(
            3,
            "Pets",
            "Dogs up to 15 kg are welcome. A fee applies.",
        )];
        let answer = extractive_answer("animals allowed?", &hits, 3, None);
        assert!(
            answer
                .answer
                .starts_with("Dogs up to 15 kg are welcome. [1]")
        );
        assert_eq!(
            answer.answer,
            "Dogs up to 15 kg are welcome. [1] A fee applies. [1]"
        );
        let unrelated = vec![hit_with_cosine(4, "Pool", "The pool opens at 07:00.", 0.12)];
        let answer = extractive_answer("capital of Peru?", &unrelated, 3, None);
        assert_eq!(answer.answer, NO_ANSWER);
        assert!(answer.citations.is_empty());
        let none = extractive_answer("anything", &[], 3, None);
        assert_eq!(none.answer, NO_ANSWER);
        assert!(none.citations.is_empty());
    }

    #[test]
    fn a_record_is_one_line_and_a_fact_said_twice_is_said_once() {
        let hits = vec![
            hit(
                1,
                "Apfelstrudel",
                "name: Apfelstrudel\ncategory: Dessert\ndescription: Warm apple strudel with walnuts and vanilla sauce.\nprice: 9.50\nallergens: gluten, dairy, egg, nuts",
            ),
            hit(
                2,
                "Pool",
                "The indoor pool is heated to 28 °C all year round.",
            ),
            hit(
                3,
                "FAQ",
                "Is the pool heated? Yes: the indoor pool is heated to 28 °C all year.",
            ),
        ];
        let strudel = extractive_answer("does the apfelstrudel have nuts in it", &hits, 3, None);
        assert!(
            strudel.answer.starts_with(
                "Apfelstrudel: Warm apple strudel with walnuts and vanilla sauce; category Dessert; price 9.50; allergens gluten, dairy, egg, nuts [1]"
            ),
            "{}",
            strudel.answer
        );
        // The same fact is said in the words that hold more of it.
        let taxis = vec![
            hit(
                1,
                "Accessibility",
                "Wheelchair-accessible taxis with ramps.",
            ),
            hit(
                2,
                "Taxis",
                "Coastline Mobility Taxis (+353 41 555 7345) have wheelchair-accessible vehicles.",
            ),
        ];
        let taxi = extractive_answer("wheelchair accessible taxi", &taxis, 1, None);
        assert_eq!(
            taxi.answer,
            "Coastline Mobility Taxis (+353 41 555 7345) have wheelchair-accessible vehicles. [1][2]"
        );
        let pool = extractive_answer("is the pool heated", &hits[1..], 3, None);
        assert_eq!(pool.answer.matches("28 °C").count(), 1, "{}", pool.answer);
        assert!(pool.answer.contains("[1][2]"), "{}", pool.answer);
        assert_eq!(pool.citations.len(), 2);
    }

    #[test]
    fn a_question_asks_what_it_says_before_what_its_words_suggest() {
        let kind = |question| answer_kind(question);
        assert_eq!(
            kind("how much is an extra bed for my 8 yr old"),
            Some(AnswerKind::Price)
        );
        assert_eq!(
            kind("im 17, can i check in on my own"),
            Some(AnswerKind::Number)
        );
        assert_eq!(
            kind("can a 5-year-old use the pool"),
            Some(AnswerKind::Number)
        );
        assert_eq!(
            kind("how long do u keep stuff left after checkout"),
            Some(AnswerKind::Number)
        );
        assert_eq!(kind("what time is check out"), Some(AnswerKind::Time));
        assert_eq!(kind("can i check in early"), Some(AnswerKind::Time));
        assert_eq!(kind("ok so when is breakfast"), Some(AnswerKind::Time));
        assert_eq!(kind("when does the spa open"), Some(AnswerKind::Time));
        assert_eq!(
            kind("if i give in my laundry at 8am will i get it back"),
            Some(AnswerKind::Time)
        );
        assert_eq!(kind("is the gym open at 17:30"), Some(AnswerKind::Time));
        assert_eq!(kind("is there a delivery charge"), Some(AnswerKind::Price));
        // "when" joining two clauses asks no time; "charger" is no charge.
        assert_eq!(
            kind("we're in the spa when the fire alarm goes, where do we go"),
            None
        );
        assert_eq!(kind("can i borrow a phone charger"), None);
        assert_eq!(kind("a table for 2 please"), None);
    }

    #[test]
    fn a_rare_word_of_the_question_outweighs_a_common_one() {
        let hits = [
            hit(
                1,
                "Housekeeping",
                "Towels left in the room are changed daily.",
            ),
            hit(
                2,
                "Lost property",
                "Phone chargers are kept at Reception for 3 months.",
            ),
        ];
        // Most of the collection's texts speak of a room on the left; one of a charger.
        let mut texts: Vec<String> = (0..40)
            .map(|n| format!("Room {n} is on the left."))
            .collect();
        texts.push("Phone chargers are kept at Reception for 3 months.".to_string());
        let vocabulary = Vocabulary::new(texts.iter().map(String::as_str));
        let question = "charger left in the room";
        let weighted = extractive_answer(question, &hits, 1, Some(&vocabulary));
        assert_eq!(
            weighted.answer,
            "Phone chargers are kept at Reception for 3 months. [1]"
        );
        // Counted alike, the sentence holding two of the words wins.
        let unweighted = extractive_answer(question, &hits, 1, None);
        assert_eq!(
            unweighted.answer,
            "Towels left in the room are changed daily. [1]"
        );
    }
}
