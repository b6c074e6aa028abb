//! What every reader target checks of one input: the reader may refuse the bytes, but only as
//! a malformed file that it names with a reason, and what it accepts has an id and no empty
//! block. A panic, a hang or a run past the memory limit is a finding of libFuzzer's.

use bellhop_readers::{Format, ReadError, ReadOptions, read_document_bytes};

/// Reads `bytes` as `format` under the file name `name` and checks the outcome.
pub fn read_checked(bytes: &[u8], format: Format, name: &str) {
    match read_document_bytes(bytes, name, format, &ReadOptions::default()) {
        Ok(documents) => {
            for document in documents {
                assert!(!document.id.is_empty(), "a document without an id");
                assert!(
                    document.blocks.iter().all(|block| !block.text.trim().is_empty()),
                    "an empty block in {document:?}"
                );
            }
        }
        Err(ReadError::Malformed { name: named, reason }) => {
            assert_eq!(named, name);
            assert!(!reason.is_empty(), "an error without a reason");
        }
        Err(other) => panic!("not a malformed-file error: {other:?}"),
    }
}
