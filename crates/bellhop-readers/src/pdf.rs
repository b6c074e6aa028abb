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

/// Deepest chain the text extractor may follow by recursion: `/Parent` links from a page up
/// to the node that holds an inherited entry, or forms drawn within forms. It follows both
/// without a bound, so a loop in either (a page that is its own parent, a form that draws
/// itself) would never end or would overflow the stack, which ends the whole process
/// instead of failing one file.
pub const MAX_PDF_NESTING: usize = 32;

/// Most forms the extractor may draw in one document, repeats counted: forms that each draw
/// the next several times multiply, and a few kilobytes would otherwise take hours.
pub const MAX_PDF_FORM_DRAWINGS: usize = 10_000;

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
    let extracted = std::panic::catch_unwind(|| extract_text(bytes, name))
        .map_err(|_| ReadError::malformed(name, "the PDF could not be parsed"))??;
    let document = super::text::read(&extracted, name);
    if document.blocks.is_empty() {
        return Err(ReadError::malformed(
            name,
            "the PDF has no text layer (a scanned document needs OCR first)",
        ));
    }
    Ok(document)
}

/// The text layer, as `pdf_extract::extract_text_from_mem` gives it, with the document's
/// recursion bounded before the extractor walks it.
fn extract_text(bytes: &[u8], name: &str) -> Result<String> {
    let unparsable = |err: &dyn std::fmt::Display| {
        ReadError::malformed(name, format!("the PDF could not be parsed: {err}"))
    };
    let mut document = lopdf::Document::load_mem(bytes).map_err(|err| unparsable(&err))?;
    if document.is_encrypted() {
        // Many PDFs are encrypted with an empty user password only to restrict editing.
        document.decrypt("").map_err(|err| unparsable(&err))?;
    }
    check_recursion_bounded(&document, name)?;
    let mut text = String::new();
    pdf_extract::output_doc(&document, &mut pdf_extract::PlainTextOutput::new(&mut text))
        .map_err(|err| unparsable(&err))?;
    Ok(text)
}

/// Walks what the extractor will walk by recursion, iteratively or to a bounded depth, and
/// refuses a document that would take it past [`MAX_PDF_NESTING`] or
/// [`MAX_PDF_FORM_DRAWINGS`]. Whatever this walk cannot resolve is left to the extractor,
/// whose own failure on it is an error for the file.
fn check_recursion_bounded(document: &lopdf::Document, name: &str) -> Result<()> {
    let too_deep = || {
        ReadError::malformed(
            name,
            format!(
                "the PDF nests its pages or drawings more than {MAX_PDF_NESTING} deep, or in a loop"
            ),
        )
    };
    let mut form_drawings = 0;
    for page_id in document.page_iter() {
        let Ok(page) = document.get_dictionary(page_id) else {
            continue;
        };
        let (Some(resources), Some(_)) = (
            inherited(document, page, b"Resources"),
            inherited(document, page, b"MediaBox"),
        ) else {
            return Err(too_deep());
        };
        let Some(Ok(resources)) = resources.map(|resources| {
            document
                .dereference(resources)
                .and_then(|(_, resources)| resources.as_dict())
        }) else {
            continue;
        };
        let Ok(content) = document.get_page_content(page_id) else {
            continue;
        };
        check_form_drawings(document, &content, resources, 0, &mut form_drawings).map_err(
            |limit| match limit {
                FormLimit::Depth => too_deep(),
                FormLimit::Drawings => ReadError::malformed(
                    name,
                    format!("the PDF draws more than {MAX_PDF_FORM_DRAWINGS} forms"),
                ),
            },
        )?;
    }
    Ok(())
}

/// The entry `key` of `page` or of the nearest ancestor that has it, as the extractor looks it
/// up: `Some(None)` when no ancestor has it, `None` when the `/Parent` chain is longer than
/// [`MAX_PDF_NESTING`] (a loop, in any real file).
fn inherited<'a>(
    document: &'a lopdf::Document,
    page: &'a lopdf::Dictionary,
    key: &[u8],
) -> Option<Option<&'a lopdf::Object>> {
    let mut node = page;
    for _ in 0..MAX_PDF_NESTING {
        if let Ok(entry) = node.get(key) {
            return Some(Some(entry));
        }
        let parent = node
            .get(b"Parent")
            .and_then(lopdf::Object::as_reference)
            .and_then(|id| document.get_dictionary(id));
        match parent {
            Ok(parent) => node = parent,
            Err(_) => return Some(None),
        }
    }
    None
}

enum FormLimit {
    Depth,
    Drawings,
}

/// Follows every `Do` in `content` into the XObject it draws, as the extractor does: with the
/// XObject's own resources, or else the drawing stream's.
fn check_form_drawings(
    document: &lopdf::Document,
    content: &[u8],
    resources: &lopdf::Dictionary,
    depth: usize,
    form_drawings: &mut usize,
) -> std::result::Result<(), FormLimit> {
    // A stream with no XObjects to draw needs no decoding: every `Do` in it fails.
    let Ok(xobjects) = resources
        .get_deref(b"XObject", document)
        .and_then(lopdf::Object::as_dict)
    else {
        return Ok(());
    };
    let Ok(operations) = lopdf::content::Content::decode(content) else {
        return Ok(());
    };
    for operation in operations
        .operations
        .iter()
        .filter(|operation| operation.operator == "Do")
    {
        let Some(Ok(drawn)) = operation
            .operands
            .first()
            .and_then(|name| name.as_name().ok())
            .and_then(|name| xobjects.get_deref(name, document).ok())
            .map(lopdf::Object::as_stream)
        else {
            continue;
        };
        if depth + 1 > MAX_PDF_NESTING {
            return Err(FormLimit::Depth);
        }
        *form_drawings += 1;
        if *form_drawings > MAX_PDF_FORM_DRAWINGS {
            return Err(FormLimit::Drawings);
        }
        let own_resources = drawn
            .dict
            .get_deref(b"Resources", document)
            .and_then(lopdf::Object::as_dict)
            .ok();
        let drawn_content = drawn
            .decompressed_content()
            .unwrap_or_else(|_| drawn.content.clone());
        check_form_drawings(
            document,
            &drawn_content,
            own_resources.unwrap_or(resources),
            depth + 1,
            form_drawings,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Document, Object, ObjectId, Stream, dictionary};

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

    /// A one-page PDF whose page shows "The pool opens at 07:00." and then `extra_content`; `build`
    /// adds objects and returns the page's XObjects dictionary and whether the page names its
    /// parent (false: the page is its own parent).
    fn one_page_pdf(
        extra_content: &[u8],
        build: impl FnOnce(&mut Document) -> (lopdf::Dictionary, bool),
    ) -> Vec<u8> {
        let mut document = Document::with_version("1.5");
        let pages_id = document.new_object_id();
        let page_id = document.new_object_id();
        let font_id = document.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let (xobjects, names_its_parent) = build(&mut document);
        let mut content = b"BT /F1 12 Tf 72 700 Td (The pool opens at 07:00.) Tj ET ".to_vec();
        content.extend_from_slice(extra_content);
        let content_id = document.add_object(Stream::new(dictionary! {}, content));
        let mut page = dictionary! {
            "Type" => "Page",
            "Contents" => content_id,
            "Parent" => if names_its_parent { pages_id } else { page_id },
        };
        let resources = dictionary! {
            "Font" => dictionary! { "F1" => font_id },
            "XObject" => xobjects,
        };
        let media_box = vec![0.into(), 0.into(), 595.into(), 842.into()];
        let mut pages = dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
        };
        // A page that is its own parent inherits nothing, so both entries go where only the
        // loop reaches them: on the page tree's root, which the page does not link to.
        if names_its_parent {
            page.set("Resources", resources);
            page.set("MediaBox", media_box);
        } else {
            pages.set("Resources", resources);
            pages.set("MediaBox", media_box);
        }
        document.objects.insert(page_id, Object::Dictionary(page));
        document.objects.insert(pages_id, Object::Dictionary(pages));
        let catalog_id =
            document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        document.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        bytes
    }

    /// A form XObject that draws `content`, with the given resources or none of its own.
    fn form(content: &[u8], resources: Option<lopdf::Dictionary>) -> Stream {
        let mut dict = dictionary! {
            "Type" => "XObject", "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
        };
        if let Some(resources) = resources {
            dict.set("Resources", resources);
        }
        Stream::new(dict, content.to_vec())
    }

    /// A chain of `length` forms, each drawing the next `times` times; returns the first.
    fn form_chain(document: &mut Document, length: usize, times: usize) -> ObjectId {
        let mut next: Option<ObjectId> = None;
        for _ in 0..length {
            let (content, resources) = match next {
                Some(next) => (
                    b"/Next Do ".repeat(times),
                    Some(dictionary! { "XObject" => dictionary! { "Next" => next } }),
                ),
                None => (b"0 0 m 10 10 l S".to_vec(), None),
            };
            next = Some(document.add_object(form(&content, resources)));
        }
        next.unwrap()
    }

    /// A one-page PDF that draws a [`form_chain`].
    fn chained_forms_pdf(length: usize, times: usize) -> Vec<u8> {
        one_page_pdf(b"/Chain Do", |document| {
            let chain = form_chain(document, length, times);
            (dictionary! { "Chain" => chain }, true)
        })
    }

    #[test]
    fn a_pdf_with_forms_drawn_within_forms_is_read() {
        let pdf = chained_forms_pdf(MAX_PDF_NESTING, 1);
        let document = read(&pdf, "menu.pdf").unwrap();
        assert!(
            document.blocks[0].text.contains("The pool opens at 07:00."),
            "{document:?}"
        );
    }

    #[test]
    fn a_form_that_draws_itself_is_refused_not_a_stack_overflow() {
        // The form has no resources of its own, so it draws with the page's, which name it.
        let pdf = one_page_pdf(b"/Loop Do", |document| {
            let loop_id = document.add_object(form(b"/Loop Do", None));
            (dictionary! { "Loop" => loop_id }, true)
        });
        let err = read(&pdf, "loop.pdf").unwrap_err().to_string();
        assert!(
            err.contains("loop.pdf") && err.contains("more than 32 deep, or in a loop"),
            "{err}"
        );
    }

    #[test]
    fn forms_nested_past_the_limit_are_refused() {
        let pdf = chained_forms_pdf(MAX_PDF_NESTING + 1, 1);
        let err = read(&pdf, "deep.pdf").unwrap_err().to_string();
        assert!(err.contains("more than 32 deep"), "{err}");
    }

    #[test]
    fn forms_that_multiply_their_drawings_are_refused_at_once() {
        // Twenty forms, each drawing the next four times: 4^20 drawings.
        let pdf = chained_forms_pdf(20, 4);
        let started = std::time::Instant::now();
        let err = read(&pdf, "bomb.pdf").unwrap_err().to_string();
        assert!(err.contains("draws more than 10000 forms"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_page_that_is_its_own_parent_is_refused_not_a_stack_overflow() {
        let pdf = one_page_pdf(b"", |_| (dictionary! {}, false));
        let err = read(&pdf, "parent.pdf").unwrap_err().to_string();
        assert!(
            err.contains("parent.pdf") && err.contains("or in a loop"),
            "{err}"
        );
    }

    #[test]
    fn the_deepest_allowed_nesting_fits_in_a_small_thread_stack() {
        // Readers run on pooled threads with stacks of a few megabytes (tokio's blocking
        // threads have 2 MiB); the deepest document the limits let through must fit.
        let pdf = chained_forms_pdf(MAX_PDF_NESTING, 1);
        let reader = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || read(&pdf, "menu.pdf").map(|document| document.blocks.len()))
            .unwrap();
        assert!(reader.join().unwrap().unwrap() > 0);
    }
}
