//! PDF: the text layer, split into paragraphs like plain text.

use std::io::Read;

use crate::document::ParsedDocument;
use crate::error::{ReadError, Result};

/// Most bytes a PDF's compressed streams may inflate to, all together. The parser inflates
/// every stream in memory, so a few megabytes of zeros compressed (a "PDF bomb") would
/// otherwise take gigabytes.
pub const MAX_PDF_INFLATED_BYTES: u64 = 256 << 20;

/// Refuses a PDF whose Flate streams inflate past `limit`, inflating them in a bounded buffer
/// first. Streams are found by their `stream`/`endstream` keywords rather than parsed, so
/// object streams (which the parser inflates while it loads the file) are counted too; a
/// stream that is not Flate data fails to inflate at once and counts nothing.
fn check_inflated_size(bytes: &[u8], name: &str, limit: u64) -> Result<()> {
    let mut total: u64 = 0;
    let mut rest = bytes;
    while let Some(start) = memchr::memmem::find(rest, b"stream") {
        let after = &rest[start + b"stream".len()..];
        let body = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .or_else(|| after.strip_prefix(b"\r"));
        let Some(body) = body else {
            // "endstream", or the word inside some text: not a stream's start.
            rest = after;
            continue;
        };
        let end = memchr::memmem::find(body, b"endstream").unwrap_or(body.len());
        let mut inflated = flate2::read::ZlibDecoder::new(&body[..end]).take(limit - total + 1);
        // A stream that is not zlib data stops with an error: what it gave so far counts.
        total += std::io::copy(&mut inflated, &mut std::io::sink()).unwrap_or(0);
        if total > limit {
            return Err(ReadError::malformed(
                name,
                format!("the PDF's content inflates to more than {} MB", limit >> 20),
            ));
        }
        rest = &body[end..];
    }
    Ok(())
}

pub(super) fn read(bytes: &[u8], name: &str) -> Result<ParsedDocument> {
    if !bytes.starts_with(b"%PDF") {
        return Err(ReadError::malformed(
            name,
            "not a PDF file (no %PDF header)",
        ));
    }
    check_inflated_size(bytes, name, MAX_PDF_INFLATED_BYTES)?;
    // The PDF parser panics on some malformed inputs; a bad file must be an error for that
    // file, never a crash of the whole ingest.
    let extracted = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes))
        .map_err(|_| ReadError::malformed(name, "the PDF could not be parsed"))?
        .map_err(|err| ReadError::malformed(name, format!("the PDF could not be parsed: {err}")))?;
    let document = super::text::read(&extracted, name);
    if document.blocks.is_empty() {
        return Err(ReadError::malformed(
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

    /// A PDF with one Flate stream of `zeros` zero bytes.
    fn inflating_pdf(zeros: usize) -> Vec<u8> {
        use std::io::Write;
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let block = vec![0u8; 1 << 20];
        let mut left = zeros;
        while left > 0 {
            let n = left.min(block.len());
            encoder.write_all(&block[..n]).unwrap();
            left -= n;
        }
        let stream = encoder.finish().unwrap();
        let mut pdf = format!(
            "%PDF-1.4\n1 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
            stream.len()
        )
        .into_bytes();
        pdf.extend_from_slice(&stream);
        pdf.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< >>\n%%EOF\n");
        pdf
    }

    #[test]
    fn a_pdf_that_inflates_past_the_limit_is_refused_before_it_is_parsed() {
        // 300 MB of zeros compress to about 300 kB.
        let bomb = inflating_pdf(300 << 20);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let err = read(&bomb, "brochure.pdf").unwrap_err().to_string();
        assert!(
            err.contains("brochure.pdf") && err.contains("inflates to more than 256 MB"),
            "{err}"
        );
        // The same check passes a small stream, which then fails only as the parser sees it.
        let small = inflating_pdf(1 << 10);
        assert!(check_inflated_size(&small, "small.pdf", MAX_PDF_INFLATED_BYTES).is_ok());
        assert!(check_inflated_size(&small, "small.pdf", 100).is_err());
    }
}
