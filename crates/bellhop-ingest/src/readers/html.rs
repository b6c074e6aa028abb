//! HTML: the main content only (no navigation, header, footer, scripts, forms or cookie
//! banners); `h1`–`h6` make the section path.

use scraper::{ElementRef, Html, Node, Selector};

use crate::document::{BlockBuilder, ParsedDocument, normalize_whitespace, table_row_text};

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

pub(super) fn read(text: &str, name: &str) -> ParsedDocument {
    let html = Html::parse_document(text);
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
    super::file_document(name, title.as_deref(), walker.builder.finish())
}

#[derive(Default)]
struct Walker {
    builder: BlockBuilder,
    buffer: String,
    /// The column names of the table being read.
    table_header: Vec<String>,
}

impl Walker {
    fn visit(&mut self, element: ElementRef<'_>) {
        for child in element.children() {
            match child.value() {
                Node::Text(text) => self.buffer.push_str(text),
                Node::Element(_) => {
                    let Some(child) = ElementRef::wrap(child) else {
                        continue;
                    };
                    self.element(child);
                }
                _ => {}
            }
        }
    }

    fn element(&mut self, element: ElementRef<'_>) {
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
            let outer = std::mem::take(&mut self.table_header);
            self.visit(element);
            self.flush();
            self.table_header = outer;
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
        self.visit(element);
        self.buffer.push(' ');
        if is_block {
            self.flush();
        }
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
        let doc = read(PAGE, "pool.html");
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
    fn broken_markup_still_yields_text_and_falls_back_to_the_page_title() {
        let doc = read(
            "<html><head><title>Notes</title></head><body><p>unclosed <b>bold",
            "n.html",
        );
        assert_eq!(doc.title, "Notes");
        assert_eq!(doc.full_text(), "unclosed bold");
    }
}
