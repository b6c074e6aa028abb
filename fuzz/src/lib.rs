//! What every reader target checks of one input: the reader may refuse the bytes, but only as
//! a malformed file that it names with a reason, and what it accepts has an id and no empty
//! block. A panic, a hang or a run past the memory limit is a finding of libFuzzer's.

use std::cell::RefCell;

use bellhop_readers::{Format, ReadError, ReadOptions, read_document_bytes};

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces libFuzzer's panic hook, which aborts on every panic, with one that only keeps the
/// message: the PDF reader catches its parser's panics on purpose (a broken file is refused
/// as malformed), and only a panic that leaves a reader is a finding.
pub fn keep_panic_messages() {
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(info.to_string()));
    }));
}

/// [`read_checked`], aborting with the panic's message when one leaves it.
pub fn fuzz_one(bytes: &[u8], format: Format, name: &str) {
    if std::panic::catch_unwind(|| read_checked(bytes, format, name)).is_err() {
        let message = LAST_PANIC.with(|last| last.borrow_mut().take());
        eprintln!("panicked: {}", message.unwrap_or_default());
        std::process::abort();
    }
}

/// Reads `bytes` as `format` under the file name `name` and checks the outcome.
pub fn read_checked(bytes: &[u8], format: Format, name: &str) {
    match read_document_bytes(bytes, name, format, &ReadOptions::default()) {
        Ok(documents) => {
            for document in documents {
                assert!(!document.id.is_empty(), "a document without an id");
                assert!(
                    document
                        .blocks
                        .iter()
                        .all(|block| !block.text.trim().is_empty()),
                    "an empty block in {document:?}"
                );
            }
        }
        Err(ReadError::Malformed {
            name: named,
            reason,
        }) => {
            assert_eq!(named, name);
            assert!(!reason.is_empty(), "an error without a reason");
        }
        Err(other) => panic!("not a malformed-file error: {other:?}"),
    }
}
