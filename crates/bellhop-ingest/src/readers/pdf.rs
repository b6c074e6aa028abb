//! PDF: the text layer, split into paragraphs like plain text.

use crate::document::ParsedDocument;
use crate::error::{IngestError, Result};

pub(super) fn read(bytes: &[u8], name: &str) -> Result<ParsedDocument> {
    if !bytes.starts_with(b"%PDF") {
        return Err(IngestError::malformed(
            name,
            "not a PDF file (no %PDF header)",
        ));
    }
    // The PDF parser panics on some malformed inputs; a bad file must be an error for that
    // file, never a crash of the whole ingest.
    let extracted = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes))
        .map_err(|_| IngestError::malformed(name, "the PDF could not be parsed"))?
        .map_err(|err| {
            IngestError::malformed(name, format!("the PDF could not be parsed: {err}"))
        })?;
    let document = super::text::read(&extracted, name);
    if document.blocks.is_empty() {
        return Err(IngestError::malformed(
            name,
            "the PDF has no text layer (a scanned document needs OCR first)",
        ));
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_pdf_and_truncated_pdf_are_errors() {
        let err = read(b"hello", "a.pdf").unwrap_err().to_string();
        assert!(err.contains("a.pdf") && err.contains("not a PDF"), "{err}");
        let err = read(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "b.pdf")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.pdf") && err.contains("could not be parsed"),
            "{err}"
        );
    }
}
