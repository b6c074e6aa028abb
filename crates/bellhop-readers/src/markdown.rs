//! Markdown: headings make the section path; paragraphs, list items and table rows (each
//! with its column names) are blocks.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::document::{BlockBuilder, ParsedDocument, table_row_text};

pub(super) fn read(text: &str, name: &str) -> ParsedDocument {
    let mut builder = BlockBuilder::default();
    let mut buffer = String::new();
    let mut cells: Vec<String> = Vec::new();
    let mut header: Vec<String> = Vec::new();
    let options = Options::ENABLE_TABLES | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut in_metadata = false;
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Start(Tag::MetadataBlock(_)) => in_metadata = true,
            Event::End(TagEnd::MetadataBlock(_)) => in_metadata = false,
            Event::Start(Tag::Heading { .. }) => flush(&mut builder, &mut buffer),
            Event::End(TagEnd::Heading(level)) => {
                builder.heading(level as usize, &buffer);
                buffer.clear();
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::BlockQuote(_),
            ) => flush(&mut builder, &mut buffer),
            Event::End(TagEnd::TableCell) => cells.push(std::mem::take(&mut buffer)),
            Event::Start(Tag::Table(_)) => header.clear(),
            Event::End(TagEnd::TableHead) => header = std::mem::take(&mut cells),
            Event::End(TagEnd::TableRow) => {
                builder.push_record(&table_row_text(&header, &cells));
                cells.clear();
            }
            Event::Text(text) | Event::Code(text) if !in_metadata => {
                buffer.push_str(&text);
            }
            Event::SoftBreak | Event::HardBreak => buffer.push(' '),
            _ => {}
        }
    }
    flush(&mut builder, &mut buffer);
    let title = builder.first_heading().map(str::to_string);
    super::file_document(name, title.as_deref(), builder.finish())
}

fn flush(builder: &mut BlockBuilder, buffer: &mut String) {
    builder.push(buffer);
    buffer.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_lists_and_tables() {
        let doc = read(
            "# Spa\n\nA calm place.\n\n## Opening hours\n\n- Mon–Fri 09:00–21:00\n- Sat–Sun 08:00–22:00\n\n\
             ## Prices\n\n| Treatment | Price |\n|---|---|\n| Massage | 85 |\n\n| | |\n|---|---|\n| Depth | 1.5 m |\n\n# Gym\n\nOpen 24h with `room key`.\n",
            "wellness/spa.md",
        );
        assert_eq!(doc.title, "Spa");
        let sections: Vec<_> = doc
            .blocks
            .iter()
            .map(|b| (b.section.join(" > "), b.text.as_str()))
            .collect();
        assert_eq!(
            sections,
            vec![
                ("Spa".to_string(), "A calm place."),
                ("Spa > Opening hours".to_string(), "Mon–Fri 09:00–21:00"),
                ("Spa > Opening hours".to_string(), "Sat–Sun 08:00–22:00"),
                ("Spa > Prices".to_string(), "Massage — Price: 85"),
                ("Spa > Prices".to_string(), "Depth: 1.5 m"),
                ("Gym".to_string(), "Open 24h with room key."),
            ]
        );
    }

    #[test]
    fn front_matter_is_not_text_and_unclosed_constructs_still_parse() {
        let doc = read(
            "---\nlayout: page\n---\n\n# T\n\n```\nunclosed code",
            "x.md",
        );
        assert_eq!(doc.title, "T");
        assert_eq!(doc.full_text(), "unclosed code");
    }
}
