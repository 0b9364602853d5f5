//! Any bytes: the frame header, every message kind's meta and the payload
//! check each return a value or an error; none panics, loops or allocates
//! beyond what the bytes justify (see `genie_remote::protocol::fuzz_one`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| genie_remote::protocol::fuzz_one(data));
