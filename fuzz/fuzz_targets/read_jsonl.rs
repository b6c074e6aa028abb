//! The jsonl reader on arbitrary bytes.
#![no_main]

use bellhop_readers::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| bellhop_fuzz::read_checked(bytes, Format::JsonLines, "fuzz.jsonl"));
