//! Stop sequences over streamed text.

/// Holds back streamed text that could be the start of a stop sequence, so that no part of a
/// stop sequence ever reaches the caller.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

impl StopMatcher {
    /// A matcher for `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            pending: String::new(),
        }
    }

    /// Adds `piece`; returns the text that is safe to send, and whether a stop sequence was
    /// reached (then nothing after it must be sent).
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        self.pending.push_str(piece);
        let first_stop = self
            .stops
            .iter()
            .filter_map(|stop| self.pending.find(stop.as_str()))
            .min();
        if let Some(at) = first_stop {
            let text = self.pending[..at].to_string();
            self.pending.clear();
            return (text, true);
        }
        // Keep the longest tail that is a prefix of some stop sequence.
        let keep = self
            .pending
            .char_indices()
            .map(|(at, _)| at)
            .find(|&at| {
                let tail = &self.pending[at..];
                self.stops.iter().any(|stop| stop.starts_with(tail))
            })
            .unwrap_or(self.pending.len());
        let text = self.pending[..keep].to_string();
        self.pending.drain(..keep);
        (text, false)
    }

    /// The text still held back, to send when generation ends without a stop.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut matcher = StopMatcher::new(&stops);
        let mut out = String::new();
        for piece in pieces {
            let (text, stopped) = matcher.push(piece);
            out.push_str(&text);
            if stopped {
                return (out, true);
            }
        }
        out.push_str(&matcher.finish());
        (out, false)
    }

    #[test]
    fn a_stop_split_across_pieces_is_never_sent() {
        assert_eq!(
            run(
                &["\nGuest:"],
                &["The pool", " is heated.\nGu", "est: thanks"]
            ),
            ("The pool is heated.".to_string(), true)
        );
    }

    #[test]
    fn a_partial_match_that_does_not_complete_is_released() {
        assert_eq!(
            run(&["STOP"], &["ST", "ay a while", " ST"]),
            ("STay a while ST".to_string(), false)
        );
    }

    #[test]
    fn the_earliest_of_several_stops_wins_and_unicode_is_respected() {
        assert_eq!(
            run(&["ü!", "b"], &["café ü", "! b"]),
            ("café ".to_string(), true)
        );
        assert_eq!(run(&[], &["a", "b"]), ("ab".to_string(), false));
    }
}
