//! Checks a model's answer against the sources it was given before a guest sees it: every
//! `[n]` must name a real source, and every number (price, time, count) and proper name it
//! states must be in the sources it cites, and it must tell something its sources state
//! beyond the question ("No, the curry has no nuts" restates the question, and a guest
//! cannot tell it from a guess). For allergens, prices and opening hours a wrong
//! answer is worse than none, so an answer that fails is replaced by the extractive one.

use std::collections::HashSet;

use unicode_segmentation::UnicodeSegmentation;

use crate::extractive::Citation;

/// What the check needs to know besides the text.
pub struct Grounding<'a> {
    sources: &'a [Citation],
    /// Lower-cased text of each source, by index from 0.
    lowered: Vec<String>,
    /// Normalised numbers of each source.
    numbers: Vec<HashSet<String>>,
    /// Words of the question, which the answer may repeat whatever the sources say.
    question_words: HashSet<String>,
    /// Numbers of the question, likewise.
    question_numbers: HashSet<String>,
    /// Whether capitalised words are names to check: in another language than the
    /// sources' (German capitalises every noun) they are not.
    check_names: bool,
    /// The first sentence of the collection's fallback, lower-cased: an answer that gives it
    /// abstains, and tells nothing of the sources by design.
    fallback: Option<String>,
}

/// Digit groups of a number with the separators unified and leading zeros dropped, so that
/// "07:00" and "7.00", or "9,50" and "9.50", compare equal.
fn normalised_numbers(text: &str) -> HashSet<String> {
    let mut numbers = HashSet::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            current.push(c);
        } else if matches!(c, '.' | ',' | ':')
            && !current.is_empty()
            && chars.peek().is_some_and(char::is_ascii_digit)
        {
            current.push('.');
        } else if !current.is_empty() {
            numbers.insert(normalise_number(&current));
            current.clear();
        }
    }
    if !current.is_empty() {
        numbers.insert(normalise_number(&current));
    }
    numbers
}

fn normalise_number(number: &str) -> String {
    let groups: Vec<&str> = number.split('.').collect();
    let mut parts: Vec<String> = groups
        .iter()
        .map(|group| {
            let trimmed = group.trim_start_matches('0');
            if trimmed.is_empty() { "0" } else { trimmed }.to_string()
        })
        .collect();
    // "9.50" and "9.5" are one price; "07:00" and "7" one time.
    while parts.len() > 1
        && parts
            .last()
            .is_some_and(|part| part.trim_end_matches('0').is_empty())
    {
        parts.pop();
    }
    if parts.len() > 1
        && let Some(last) = parts.last_mut()
    {
        *last = last.trim_end_matches('0').to_string();
    }
    parts.join(".")
}

/// The first sentence of a fallback text, lower-cased.
pub(crate) fn fallback_first_sentence(fallback_text: &str) -> String {
    let fallback = fallback_text.trim();
    fallback
        .unicode_sentences()
        .next()
        .unwrap_or(fallback)
        .trim()
        .to_lowercase()
}

/// `text` without its `[n]` citation markers, and the numbers they cite.
pub(crate) fn split_citations(text: &str) -> (String, Vec<usize>) {
    let mut plain = String::with_capacity(text.len());
    let mut cited = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        plain.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
                    && close > 0 =>
            {
                cited.extend(
                    after[..close]
                        .split([',', ' '])
                        .filter_map(|number| number.parse::<usize>().ok()),
                );
                rest = &after[close + 1..];
            }
            _ => {
                plain.push('[');
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    (plain, cited)
}

impl<'a> Grounding<'a> {
    /// A check against `sources` (numbered from 1) for an answer to `question`.
    pub fn new(sources: &'a [Citation], question: &str, check_names: bool) -> Self {
        Self {
            sources,
            lowered: sources
                .iter()
                .map(|source| format!("{} {}", source.title, source.text).to_lowercase())
                .collect(),
            numbers: sources
                .iter()
                .map(|source| normalised_numbers(&format!("{} {}", source.title, source.text)))
                .collect(),
            question_words: question.unicode_words().map(str::to_lowercase).collect(),
            question_numbers: normalised_numbers(question),
            check_names,
            fallback: None,
        }
    }

    /// The same check for a collection whose fallback text is `fallback_text`.
    pub fn with_fallback(mut self, fallback_text: &str) -> Self {
        // Split before lower-casing: a lower-case word after a full stop continues a sentence.
        let first = fallback_first_sentence(fallback_text);
        self.fallback = (!first.is_empty()).then_some(first);
        self
    }

    /// Whether `text` tells something its sources state beyond the question: a number of
    /// theirs, or one of their words (three letters or more, not a stop word), that the
    /// question does not hold; or the collection's fallback.
    pub fn tells_something(&self, text: &str) -> bool {
        let (plain, _) = split_citations(text);
        if self
            .fallback
            .as_ref()
            .is_some_and(|fallback| plain.to_lowercase().contains(fallback.as_str()))
        {
            return true;
        }
        let new_number = normalised_numbers(&plain).into_iter().any(|number| {
            !self.question_numbers.contains(&number)
                && self.numbers.iter().any(|numbers| numbers.contains(&number))
        });
        new_number
            || plain.unicode_words().any(|word| {
                let word = word.to_lowercase();
                word.chars().count() >= 3
                    && !word.chars().all(|c| c.is_ascii_digit())
                    && !crate::answerability::STOPWORDS.contains(word.as_str())
                    && !self.question_words.contains(&word)
                    && self.lowered.iter().any(|source| source.contains(&word))
            })
    }

    /// Why `text` (one or more whole sentences of the answer) is not supported by its
    /// sources, or `None` when it is. A sentence that cites nothing is checked against all
    /// the sources.
    pub fn unsupported(&self, text: &str) -> Option<String> {
        for sentence in text.unicode_sentences() {
            let (plain, cited) = split_citations(sentence);
            if let Some(&bad) = cited
                .iter()
                .find(|&&number| number == 0 || number > self.sources.len())
            {
                return Some(format!(
                    "the model cited [{bad}], but there are {} sources",
                    self.sources.len()
                ));
            }
            let pool: Vec<usize> = if cited.is_empty() {
                (0..self.sources.len()).collect()
            } else {
                cited.iter().map(|number| number - 1).collect()
            };
            for number in normalised_numbers(&plain) {
                if !self.question_numbers.contains(&number)
                    && !pool
                        .iter()
                        .any(|&index| self.numbers[index].contains(&number))
                {
                    return Some(format!(
                        "the model stated {number}, which its sources do not"
                    ));
                }
            }
            if self.check_names {
                for (position, word) in plain.unicode_words().enumerate() {
                    let is_name = position > 0
                        && word.chars().count() >= 3
                        && word.chars().next().is_some_and(char::is_uppercase)
                        && !word.chars().all(char::is_uppercase);
                    let lowered = word.to_lowercase();
                    if is_name
                        && !self.question_words.contains(&lowered)
                        && !pool
                            .iter()
                            .any(|&index| self.lowered[index].contains(&lowered))
                    {
                        return Some(format!(
                            "the model named {word:?}, which its sources do not"
                        ));
                    }
                }
            }
        }
        None
    }
}

/// The end of the last whole sentence in `text` (after its closing punctuation and any
/// citation markers that follow), or 0 when none is complete yet.
pub fn checked_prefix(text: &str) -> usize {
    let mut end = 0;
    for (start, sentence) in text.split_sentence_bound_indices() {
        let trimmed = sentence.trim_end();
        let complete = trimmed.ends_with(['.', '!', '?', '。', '！', '？', ']', '\n'])
            || sentence.ends_with('\n');
        // The last piece may be a sentence still being written.
        if complete && start + sentence.len() < text.len() {
            end = start + sentence.len();
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(index: usize, text: &str) -> Citation {
        Citation {
            index,
            chunk_id: index as u64,
            document_id: format!("doc-{index}"),
            title: "Minibar".into(),
            section: Vec::new(),
            source: "test".into(),
            score: 0.5,
            text: text.into(),
        }
    }

    #[test]
    fn numbers_and_names_must_come_from_the_cited_sources() {
        let sources = [
            source(
                1,
                "Soft drinks from the minibar cost EUR 3.50. The pool opens at 07:00.",
            ),
            source(2, "The Harbourmaster Suite has a balcony."),
        ];
        let check = Grounding::new(&sources, "how much is a beer from the minibar", true);
        assert_eq!(check.unsupported("Soft drinks cost EUR 3.5 [1]."), None);
        assert_eq!(check.unsupported("The pool opens at 7:00 [1]."), None);
        assert!(check.unsupported("A beer costs EUR 7.50 [1].").is_some());
        assert!(check.unsupported("Ask about it [3].").is_some());
        // The number is in a source, but not in the one cited.
        assert!(check.unsupported("The pool opens at 07:00 [2].").is_some());
        assert_eq!(
            check.unsupported("The Harbourmaster Suite has a balcony [2]."),
            None
        );
        assert!(
            check
                .unsupported("The Presidential Suite costs EUR 3.50 [1].")
                .is_some()
        );
        let german = Grounding::new(&sources, "Wann öffnet der Pool?", false);
        assert_eq!(
            german.unsupported("Der Pool öffnet um 07:00 Uhr [1]."),
            None
        );
    }

    #[test]
    fn an_answer_must_tell_something_of_its_sources_beyond_the_question() {
        let sources = [source(
            1,
            "Mild chicken curry with cashew nuts and rice. Allergens: nuts, dairy.",
        )];
        let question = "does the mild chicken curry from room service have nuts";
        let check = Grounding::new(&sources, question, true)
            .with_fallback("I don't have that information. Reception is happy to help.");
        assert!(!check.tells_something("No, the mild chicken curry does not have nuts."));
        assert!(!check.tells_something("Yes."));
        assert!(check.tells_something("Yes: it is made with cashew nuts [1]."));
        assert!(check.tells_something("I don't have that information."));
        // A number of the sources counts as much as a word.
        let sources = [source(1, "The pool is heated to 28 °C.")];
        let check = Grounding::new(&sources, "is the pool heated", true);
        assert!(check.tells_something("Yes, to 28 °C [1]."));
        assert!(!check.tells_something("Yes, the pool is heated."));
    }

    #[test]
    fn only_whole_sentences_are_released() {
        assert_eq!(checked_prefix("The pool opens"), 0);
        let text = "The pool opens at 07:00 [1]. It clo";
        assert_eq!(
            &text[..checked_prefix(text)],
            "The pool opens at 07:00 [1]. "
        );
    }
}
