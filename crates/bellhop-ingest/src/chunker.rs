//! Structure-aware chunking under a token budget.
//!
//! Chunks never cross a section. Within a section, whole paragraphs (blocks) are packed
//! greedily; a paragraph too long for one chunk is split at sentence bounds (UAX #29), and a
//! sentence too long at word bounds. A new chunk starts with the previous chunk's trailing
//! pieces up to the overlap budget. Each chunk's embedding text is prefixed with its context
//! (`Title > Section`), and the whole prefixed text fits the model's sequence length.

use unicode_segmentation::UnicodeSegmentation;

use bellhop_readers::{Block, ParsedDocument};

/// Counts the tokens a model sees for a text on its own, special tokens included.
pub trait TokenCounter: Sync {
    /// Tokens for `text`, special tokens included.
    fn count(&self, text: &str) -> usize;
}

/// Whitespace words plus two special tokens: a stand-in when no model tokenizer is at hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct WhitespaceTokenCounter;

impl TokenCounter for WhitespaceTokenCounter {
    fn count(&self, text: &str) -> usize {
        text.split_whitespace().count() + 2
    }
}

/// Chunk size settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkingOptions {
    /// Most tokens in a chunk's embedding text, special tokens and context included.
    pub max_tokens: usize,
    /// Tokens of the previous chunk repeated at the start of the next (same section only).
    pub overlap_tokens: usize,
    /// Prefix the embedding text with `Title > Section`.
    pub context_header: bool,
}

impl Default for ChunkingOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            overlap_tokens: 32,
            context_header: true,
        }
    }
}

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Headings above the chunk, outermost first.
    pub section: Vec<String>,
    /// The chunk's own text (what a reader is shown).
    pub text: String,
    /// What is embedded and indexed: the text with its context header.
    pub embedding_text: String,
}

/// Splits documents into chunks with a model's token counter.
pub struct Chunker<'a> {
    options: ChunkingOptions,
    counter: &'a dyn TokenCounter,
    special_tokens: usize,
}

struct Piece {
    text: String,
    tokens: usize,
    /// Joins this piece to the one before it in the same chunk.
    separator: &'static str,
    /// A whole record: a chunk of its own, with no overlap in or out.
    alone: bool,
}

impl<'a> Chunker<'a> {
    /// A chunker; `max_tokens` below 8 is raised to 8 so that every word fits somewhere.
    pub fn new(mut options: ChunkingOptions, counter: &'a dyn TokenCounter) -> Self {
        options.max_tokens = options.max_tokens.max(8);
        options.overlap_tokens = options.overlap_tokens.min(options.max_tokens / 2);
        let special_tokens = counter.count("");
        Self {
            options,
            counter,
            special_tokens,
        }
    }

    /// The document's chunks in reading order.
    pub fn chunk(&self, document: &ParsedDocument) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        let mut start = 0;
        while start < document.blocks.len() {
            let section = &document.blocks[start].section;
            let end = document.blocks[start..]
                .iter()
                .position(|block| &block.section != section)
                .map_or(document.blocks.len(), |offset| start + offset);
            self.chunk_section(
                &document.title,
                section,
                &document.blocks[start..end],
                &mut chunks,
            );
            start = end;
        }
        chunks
    }

    fn tokens(&self, text: &str) -> usize {
        self.counter.count(text).saturating_sub(self.special_tokens)
    }

    fn header(&self, title: &str, section: &[String]) -> String {
        if !self.options.context_header {
            return String::new();
        }
        let mut parts: Vec<&str> = Vec::new();
        if !title.is_empty() {
            parts.push(title);
        }
        for heading in section {
            if parts.last() != Some(&heading.as_str()) {
                parts.push(heading);
            }
        }
        parts.join(" > ")
    }

    fn chunk_section(
        &self,
        title: &str,
        section: &[String],
        blocks: &[Block],
        out: &mut Vec<Chunk>,
    ) {
        let capacity =
            self.options.max_tokens - self.special_tokens.min(self.options.max_tokens - 4);
        let mut header = self.header(title, section);
        let mut header_tokens = if header.is_empty() {
            0
        } else {
            self.tokens(&header)
        };
        if header_tokens > capacity / 2 {
            header.clear();
            header_tokens = 0;
        }
        let budget = capacity - header_tokens;
        let pieces = self.pieces(blocks, budget);
        let mut current: Vec<Piece> = Vec::new();
        let mut current_tokens = 0;
        for piece in pieces {
            if piece.alone {
                if !current.is_empty() {
                    self.emit(&header, section, &current, out);
                    current.clear();
                    current_tokens = 0;
                }
                self.emit(&header, section, std::slice::from_ref(&piece), out);
                continue;
            }
            if current_tokens + piece.tokens > budget && !current.is_empty() {
                let overlap = self.overlap(&current);
                self.emit(&header, section, &current, out);
                current = overlap;
                current_tokens = current.iter().map(|p| p.tokens).sum();
                if current_tokens + piece.tokens > budget {
                    current.clear();
                    current_tokens = 0;
                }
            }
            current_tokens += piece.tokens;
            current.push(piece);
        }
        if !current.is_empty() {
            self.emit(&header, section, &current, out);
        }
    }

    /// The trailing pieces of a chunk that fit the overlap budget (never the whole chunk).
    fn overlap(&self, pieces: &[Piece]) -> Vec<Piece> {
        let mut taken = 0;
        let mut count = 0;
        for piece in pieces.iter().rev() {
            if count + 1 >= pieces.len() || taken + piece.tokens > self.options.overlap_tokens {
                break;
            }
            taken += piece.tokens;
            count += 1;
        }
        pieces[pieces.len() - count..]
            .iter()
            .map(|piece| Piece {
                text: piece.text.clone(),
                tokens: piece.tokens,
                separator: piece.separator,
                alone: false,
            })
            .collect()
    }

    fn emit(&self, header: &str, section: &[String], pieces: &[Piece], out: &mut Vec<Chunk>) {
        let mut text = String::new();
        for (index, piece) in pieces.iter().enumerate() {
            if index > 0 {
                text.push_str(piece.separator);
            }
            text.push_str(&piece.text);
        }
        let embedding_text = if header.is_empty() {
            text.clone()
        } else {
            format!("{header}\n{text}")
        };
        out.push(Chunk {
            section: section.to_vec(),
            text,
            embedding_text,
        });
    }

    /// Blocks as pieces no larger than `budget`: whole when they fit, else sentences, else
    /// runs of words.
    fn pieces(&self, blocks: &[Block], budget: usize) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for block in blocks {
            let tokens = self.tokens(&block.text);
            if tokens <= budget {
                pieces.push(Piece {
                    text: block.text.clone(),
                    tokens,
                    separator: "\n\n",
                    alone: block.record,
                });
                continue;
            }
            let mut separator = "\n\n";
            for sentence in block.text.split_sentence_bounds() {
                let sentence = sentence.trim();
                if sentence.is_empty() {
                    continue;
                }
                let tokens = self.tokens(sentence);
                if tokens <= budget {
                    pieces.push(Piece {
                        text: sentence.to_string(),
                        tokens,
                        separator,
                        alone: false,
                    });
                } else {
                    self.word_pieces(sentence, budget, separator, &mut pieces);
                }
                separator = " ";
            }
        }
        pieces
    }

    fn word_pieces(
        &self,
        sentence: &str,
        budget: usize,
        mut separator: &'static str,
        out: &mut Vec<Piece>,
    ) {
        let mut text = String::new();
        let mut tokens = 0;
        for word in sentence.split_whitespace() {
            // A single word longer than the budget (a URL, a token soup) is cut by characters.
            let word_tokens = self.tokens(word);
            let parts: Vec<String> = if word_tokens > budget {
                word.chars()
                    .collect::<Vec<_>>()
                    .chunks(budget.max(1))
                    .map(|chars| chars.iter().collect())
                    .collect()
            } else {
                vec![word.to_string()]
            };
            for part in parts {
                let part_tokens = if word_tokens > budget {
                    self.tokens(&part)
                } else {
                    word_tokens
                };
                if tokens + part_tokens > budget && !text.is_empty() {
                    out.push(Piece {
                        text: std::mem::take(&mut text),
                        tokens,
                        separator,
                        alone: false,
                    });
                    separator = " ";
                    tokens = 0;
                }
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&part);
                tokens += part_tokens;
            }
        }
        if !text.is_empty() {
            out.push(Piece {
                text,
                tokens,
                separator,
                alone: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(blocks: &[(&[&str], &str)]) -> ParsedDocument {
        ParsedDocument {
            id: "d".into(),
            title: "Spa".into(),
            source: "d".into(),
            metadata: Default::default(),
            blocks: blocks
                .iter()
                .map(|(section, text)| Block {
                    section: section.iter().map(|s| s.to_string()).collect(),
                    text: text.to_string(),
                    record: false,
                })
                .collect(),
        }
    }

    fn options(max_tokens: usize, overlap_tokens: usize) -> ChunkingOptions {
        ChunkingOptions {
            max_tokens,
            overlap_tokens,
            context_header: true,
        }
    }

    #[test]
    fn small_sections_stay_whole_and_carry_their_path() {
        let doc = document(&[
            (&["Spa", "Opening hours"], "Daily 09:00 to 21:00."),
            (&["Spa", "Opening hours"], "Closed on 25 December."),
            (&["Spa", "Prices"], "Massage 85 euros."),
        ]);
        let chunks = Chunker::new(options(64, 8), &WhitespaceTokenCounter).chunk(&doc);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].section, vec!["Spa", "Opening hours"]);
        assert_eq!(
            chunks[0].text,
            "Daily 09:00 to 21:00.\n\nClosed on 25 December."
        );
        assert_eq!(
            chunks[0].embedding_text,
            "Spa > Opening hours\nDaily 09:00 to 21:00.\n\nClosed on 25 December."
        );
        assert_eq!(chunks[1].embedding_text, "Spa > Prices\nMassage 85 euros.");
    }

    #[test]
    fn records_are_chunks_of_their_own_between_the_text_around_them() {
        let mut doc = document(&[
            (&["Rooms"], "Rates are per room per night."),
            (&["Rooms"], "Classic Double — Size: 22 m²; From (EUR): 145"),
            (&["Rooms"], "Junior Suite — Size: 42 m²; From (EUR): 310"),
            (&["Rooms"], "Every room is non-smoking."),
        ]);
        doc.blocks[1].record = true;
        doc.blocks[2].record = true;
        let chunks = Chunker::new(options(256, 32), &WhitespaceTokenCounter).chunk(&doc);
        let texts: Vec<&str> = chunks.iter().map(|chunk| chunk.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Rates are per room per night.",
                "Classic Double — Size: 22 m²; From (EUR): 145",
                "Junior Suite — Size: 42 m²; From (EUR): 310",
                "Every room is non-smoking.",
            ]
        );
        assert_eq!(
            chunks[2].embedding_text,
            "Spa > Rooms\nJunior Suite — Size: 42 m²; From (EUR): 310"
        );
    }

    #[test]
    fn long_paragraphs_split_at_sentences_with_overlap_and_never_exceed_the_budget() {
        let sentence = |i: usize| format!("Sentence number {i} has exactly seven words.");
        let paragraph: Vec<String> = (0..40).map(sentence).collect();
        let doc = document(&[(&["Policies"], &paragraph.join(" "))]);
        let counter = WhitespaceTokenCounter;
        for (max, overlap) in [(20, 0), (32, 8), (64, 16), (300, 32)] {
            let chunks = Chunker::new(options(max, overlap), &counter).chunk(&doc);
            for chunk in &chunks {
                assert!(
                    counter.count(&chunk.embedding_text) <= max,
                    "{max}: {}",
                    chunk.embedding_text
                );
                assert!(
                    chunk.text.starts_with("Sentence number"),
                    "split inside a sentence: {}",
                    chunk.text
                );
            }
            let joined: String = chunks
                .iter()
                .map(|c| c.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            for i in 0..40 {
                assert!(
                    joined.contains(&sentence(i)),
                    "lost sentence {i} at max {max}"
                );
            }
            if overlap >= 7 && chunks.len() > 1 {
                let last_of_first = chunks[0]
                    .text
                    .rsplit(". ")
                    .next()
                    .unwrap()
                    .trim_end_matches('.');
                assert!(
                    chunks[1].text.contains(last_of_first),
                    "no overlap at max {max}"
                );
            }
        }
    }

    #[test]
    fn sentences_longer_than_the_budget_split_at_words() {
        let long: String = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let doc = document(&[(&[], &long)]);
        let chunks = Chunker::new(options(20, 0), &WhitespaceTokenCounter).chunk(&doc);
        assert!(chunks.len() >= 6);
        for chunk in &chunks {
            assert!(WhitespaceTokenCounter.count(&chunk.embedding_text) <= 20);
        }
        let words: Vec<&str> = chunks
            .iter()
            .flat_map(|c| c.text.split_whitespace())
            .collect();
        assert_eq!(words.len(), 100);
        assert_eq!(chunks[0].embedding_text.lines().next(), Some("Spa"));
    }

    #[test]
    fn no_header_when_disabled() {
        let doc = document(&[(&["A"], "text here")]);
        let mut opts = options(64, 0);
        opts.context_header = false;
        let chunks = Chunker::new(opts, &WhitespaceTokenCounter).chunk(&doc);
        assert_eq!(chunks[0].embedding_text, "text here");
    }
}
