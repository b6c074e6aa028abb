//! Follow-up questions searched with the question they follow. "How much is it?" after "Can
//! I bring my dog?" holds nothing to search for on its own; the conversation does. Without a
//! model to rewrite the question, the guest's previous question is searched with it, which is
//! what the question leans on when it points back ("it", "there") or says almost nothing new.

use bellhop_generate::{ChatMessage, Role};

use crate::answerability::key_terms;

/// Words that point back at something said before.
const POINTING_BACK: &[&str] = &[
    "it", "its", "that", "this", "they", "them", "their", "there", "those", "these", "one", "ones",
];

/// Openings that continue the previous question.
const CONTINUING: &[&str] = &["and", "also", "what about", "how about", "but"];

/// Most key terms a question may have of its own and still lean on the previous one.
const MAX_OWN_TERMS: usize = 2;

/// The text to search for `question` asked after `history`: the guest's previous question
/// followed by this one when this one leans on it, else `None` (search the question alone).
pub(crate) fn retrieval_question(history: &[ChatMessage], question: &str) -> Option<String> {
    let previous = history
        .iter()
        .rev()
        .find(|message| message.role == Role::User && !message.content.trim().is_empty())?;
    let own_terms = key_terms(question).len();
    let lowered = question.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|word| !word.is_empty())
        .collect();
    let points_back = words.iter().any(|word| POINTING_BACK.contains(word));
    let continues = CONTINUING.iter().any(|opening| {
        lowered
            .trim_start()
            .strip_prefix(opening)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(|c: char| !c.is_alphanumeric()))
    });
    let leans = own_terms == 0 || (own_terms <= MAX_OWN_TERMS && (points_back || continues));
    leans.then(|| format!("{} {}", previous.content.trim(), question.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> ChatMessage {
        ChatMessage::new(Role::User, text)
    }

    fn assistant(text: &str) -> ChatMessage {
        ChatMessage::new(Role::Assistant, text)
    }

    #[test]
    fn a_question_that_points_back_is_searched_with_the_one_before() {
        let history = [
            user("Can I bring my dog?"),
            assistant("Dogs up to 15 kg are welcome. [1]"),
        ];
        assert_eq!(
            retrieval_question(&history, "how much is it?").as_deref(),
            Some("Can I bring my dog? how much is it?")
        );
        assert_eq!(
            retrieval_question(&history, "And on Sundays?").as_deref(),
            Some("Can I bring my dog? And on Sundays?")
        );
        assert_eq!(
            retrieval_question(&history, "is it allowed in the restaurant").as_deref(),
            Some("Can I bring my dog? is it allowed in the restaurant")
        );
    }

    #[test]
    fn a_question_of_its_own_is_searched_alone() {
        let history = [user("Can I bring my dog?")];
        assert_eq!(
            retrieval_question(&history, "When does the pool open?"),
            None
        );
        assert_eq!(
            retrieval_question(&history, "Andorra trip prices from the concierge"),
            None
        );
        assert_eq!(retrieval_question(&[], "how much is it?"), None);
        assert_eq!(
            retrieval_question(&[assistant("Welcome!")], "how much is it?"),
            None
        );
    }
}
