//! The text reader on arbitrary bytes.
#![no_main]

use bellhop_readers::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: bellhop_fuzz::keep_panic_messages(), |bytes: &[u8]| {
    bellhop_fuzz::fuzz_one(bytes, Format::Text, "fuzz.txt")
});
