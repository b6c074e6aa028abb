//! HTML: the main content only (no navigation, header, footer, scripts, forms or cookie
//! banners); `h1`–`h6` make the section path.

use std::cell::Cell;

use html5ever::driver::ParseOpts;
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::Tracer;
use scraper::{ElementRef, Html, HtmlTreeSink, Node, Selector};

use crate::document::{BlockBuilder, ParsedDocument, normalize_whitespace, table_row_text};
use crate::error::{ReadError, Result};

/// Most elements the parser may hold open at once (nested, or left unclosed to be reopened
/// in every paragraph after them). Parsing costs time in proportion to them for every tag;
/// browsers flatten pages nested this deep.
const MAX_OPEN_ELEMENTS: usize = 512;

/// Most elements and texts in a page, which bounds the parser's memory.
const MAX_NODES: usize = 500_000;

/// Input given to the parser between two counts.
const FEED_BYTES: usize = 4096;

/// Elements whose content is never page text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "button", "svg", "iframe", "head",
];

/// Elements that end a block of text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "li",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "section",
    "article",
    "main",
    "tr",
    "table",
    "ul",
    "ol",
    "dl",
    "figure",
    "figcaption",
    "address",
    "br",
    "hr",
    "caption",
];

pub(super) fn read(text: &str, name: &str) -> Result<ParsedDocument> {
    let html = parse(text, name)?;
    let page_title = Selector::parse("title")
        .ok()
        .and_then(|selector| html.select(&selector).next())
        .map(|title| normalize_whitespace(&title.text().collect::<String>()))
        .filter(|title| !title.is_empty());
    let root = ["main", "article", "[role=main]", "body"]
        .iter()
        .filter_map(|css| Selector::parse(css).ok())
        .find_map(|selector| html.select(&selector).next())
        .unwrap_or_else(|| html.root_element());
    let mut walker = Walker::default();
    walker.visit(root);
    walker.flush();
    let title = walker
        .builder
        .first_heading()
        .map(str::to_string)
        .or(page_title);
    Ok(super::file_document(
        name,
        title.as_deref(),
        walker.builder.finish(),
    ))
}

/// Parses a page as a browser would, refusing one that makes the parser hold more than
/// [`MAX_OPEN_ELEMENTS`] open or build more than [`MAX_NODES`]: the input is fed in pieces,
/// and both are counted after each.
fn parse(text: &str, name: &str) -> Result<Html> {
    let mut parser = html5ever::driver::parse_document(
        HtmlTreeSink::new(Html::new_document()),
        ParseOpts::default(),
    );
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(FEED_BYTES);
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        parser.process(StrTendril::from_slice(piece));
        rest = tail;
        let held = HeldElements::default();
        parser.tokenizer.sink.trace_handles(&held);
        if held.0.get() > MAX_OPEN_ELEMENTS {
            return Err(ReadError::malformed(
                name,
                format!(
                    "the page holds more than {MAX_OPEN_ELEMENTS} elements open at once (nested, or never closed)"
                ),
            ));
        }
        let nodes = parser.tokenizer.sink.sink.0.borrow().tree.nodes().len();
        if nodes > MAX_NODES {
            return Err(ReadError::malformed(
                name,
                format!("the page has more than {MAX_NODES} elements and texts"),
            ));
        }
    }
    Ok(parser.finish())
}

/// Counts the elements the parser holds: its stack of open elements and the formatting
/// elements it would reopen.
#[derive(Default)]
struct HeldElements(Cell<usize>);

impl Tracer for HeldElements {
    type Handle = ego_tree::NodeId;

    fn trace_handle(&self, _node: &ego_tree::NodeId) {
        self.0.set(self.0.get() + 1);
    }
}

#[derive(Default)]
struct Walker {
    builder: BlockBuilder,
    buffer: String,
    /// The column names of the table being read.
    table_header: Vec<String>,
}

/// What is left to do of an element the walker has entered.
enum Step<'a> {
    /// A child node to read.
    Node(ego_tree::NodeRef<'a, Node>),
    /// The end of an element: a space, and the end of a block for block elements.
    Leave { is_block: bool },
    /// The end of a table: the enclosing table's column names come back.
    LeaveTable { outer_header: Vec<String> },
}

impl Walker {
    /// Reads the element's content in document order. The pending steps are kept on a
    /// stack of their own, not the call stack, so that no nesting depth can overflow it.
    fn visit(&mut self, element: ElementRef<'_>) {
        let mut steps: Vec<Step<'_>> = element.children().rev().map(Step::Node).collect();
        while let Some(step) = steps.pop() {
            match step {
                Step::Node(node) => match node.value() {
                    Node::Text(text) => self.buffer.push_str(text),
                    Node::Element(_) => {
                        if let Some(child) = ElementRef::wrap(node) {
                            self.enter(child, &mut steps);
                        }
                    }
                    _ => {}
                },
                Step::Leave { is_block } => {
                    self.buffer.push(' ');
                    if is_block {
                        self.flush();
                    }
                }
                Step::LeaveTable { outer_header } => {
                    self.flush();
                    self.table_header = outer_header;
                }
            }
        }
    }

    /// Reads what an element itself says, and schedules its children and its end.
    fn enter<'a>(&mut self, element: ElementRef<'a>, steps: &mut Vec<Step<'a>>) {
        let tag = element.value().name();
        if SKIPPED.contains(&tag) || is_boilerplate(element) {
            return;
        }
        if let Some(level) = heading_level(tag) {
            self.flush();
            let text: String = element.text().collect();
            self.builder.heading(level, &text);
            return;
        }
        let is_block = BLOCKS.contains(&tag);
        if is_block {
            self.flush();
        }
        if tag == "table" {
            let outer_header = std::mem::take(&mut self.table_header);
            steps.push(Step::LeaveTable { outer_header });
            steps.extend(element.children().rev().map(Step::Node));
            return;
        }
        if tag == "tr" {
            self.table_row(element);
            return;
        }
        if tag == "td" || tag == "th" {
            if !self.buffer.trim().is_empty() {
                self.buffer.push_str(" | ");
            }
        } else {
            self.buffer.push(' ');
        }
        steps.push(Step::Leave { is_block });
        steps.extend(element.children().rev().map(Step::Node));
    }

    /// A row of header cells names the table's columns; any other row is a block with them.
    fn table_row(&mut self, row: ElementRef<'_>) {
        let cells: Vec<ElementRef<'_>> = row
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|cell| matches!(cell.value().name(), "td" | "th"))
            .collect();
        let texts: Vec<String> = cells
            .iter()
            .map(|cell| normalize_whitespace(&cell.text().collect::<String>()))
            .collect();
        let in_head = row
            .parent()
            .and_then(ElementRef::wrap)
            .is_some_and(|parent| parent.value().name() == "thead");
        let all_headers = !cells.is_empty() && cells.iter().all(|cell| cell.value().name() == "th");
        if self.table_header.is_empty() && (in_head || all_headers) {
            self.table_header = texts;
        } else {
            self.builder
                .push_record(&table_row_text(&self.table_header, &texts));
        }
    }

    fn flush(&mut self) {
        self.builder.push(&self.buffer);
        self.buffer.clear();
    }
}

fn heading_level(tag: &str) -> Option<usize> {
    match tag {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Cookie banners and similar overlays, recognised by class, id or role.
fn is_boilerplate(element: ElementRef<'_>) -> bool {
    let value = element.value();
    let marks = |text: &str| {
        let text = text.to_ascii_lowercase();
        [
            "cookie",
            "consent",
            "banner",
            "breadcrumb",
            "skip-link",
            "navbar",
        ]
        .iter()
        .any(|mark| text.contains(mark))
    };
    value.classes().any(marks)
        || value.id().is_some_and(marks)
        || matches!(
            value.attr("role"),
            Some("navigation" | "banner" | "contentinfo")
        )
        || value.attr("aria-hidden") == Some("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html><head><title>Pool | Harbour View</title>
        <style>p { color: red }</style></head><body>
        <header><a href="/">Home</a></header><nav><ul><li>Rooms</li><li>Dining</li></ul></nav>
        <div class="cookie-banner">We use cookies. <button>Accept</button></div>
        <main><h1>Pool</h1><p>The pool is <b>heated</b>
        to 28 °C.</p><h2>Hours</h2><ul><li>07:00–22:00</li></ul>
        <table><tr><th>Day</th><th>Kids</th></tr><tr><td>All</td><td>until 19:00</td></tr></table></main>
        <script>alert('x')</script><footer>© 2026</footer></body></html>"#;

    #[test]
    fn keeps_content_and_headings_drops_boilerplate() {
        let doc = read(PAGE, "pool.html").unwrap();
        assert_eq!(doc.title, "Pool");
        let blocks: Vec<_> = doc
            .blocks
            .iter()
            .map(|b| format!("{} :: {}", b.section.join(" > "), b.text))
            .collect();
        assert_eq!(
            blocks,
            vec![
                "Pool :: The pool is heated to 28 °C.",
                "Pool > Hours :: 07:00–22:00",
                "Pool > Hours :: All — Kids: until 19:00",
            ]
        );
        let text = doc.full_text();
        for boilerplate in ["cookies", "Home", "Dining", "alert", "2026", "color"] {
            assert!(!text.contains(boilerplate), "{boilerplate} leaked: {text}");
        }
    }

    #[test]
    fn nesting_as_deep_as_the_parser_allows_is_read_on_a_small_stack() {
        let depth = MAX_OPEN_ELEMENTS / 2 - 8;
        let page = format!(
            "<body><h1>Pool</h1>{}The pool is <b>heated</b> all year.{}</body>",
            "<div><span>".repeat(depth),
            "</span></div>".repeat(depth)
        );
        // A walker that recursed would overflow this stack.
        let doc = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || read(&page, "deep.html"))
            .unwrap()
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(doc.full_text(), "The pool is heated all year.");
    }

    #[test]
    fn pages_that_hold_too_many_elements_open_are_refused_promptly() {
        let started = std::time::Instant::now();
        let nested = format!("<body>{}x", "<div>".repeat(200_000));
        // Formatting elements left open are reopened in every paragraph after them.
        let reopened: String = (0..20_000).map(|i| format!("<p><b id={i}>x</p>")).collect();
        for page in [nested, reopened] {
            let err = read(&page, "deep.html").unwrap_err().to_string();
            assert!(
                err.contains("deep.html") && err.contains("open at once"),
                "{err}"
            );
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn broken_markup_still_yields_text_and_falls_back_to_the_page_title() {
        let doc = read(
            "<html><head><title>Notes</title></head><body><p>unclosed <b>bold",
            "n.html",
        )
        .unwrap();
        assert_eq!(doc.title, "Notes");
        assert_eq!(doc.full_text(), "unclosed bold");
    }
}
