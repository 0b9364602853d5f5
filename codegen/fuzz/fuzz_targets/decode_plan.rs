//! Any bytes: the decoder returns a plan that verifies, or an error; it never
//! panics, loops or over-allocates. The input is tried as a whole container
//! and as a payload behind a valid header (matching length and checksum), so
//! the fuzzer reaches the table and index checks past the CRC.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    if let Ok(plan) = genie_plan::decode(bytes) {
        genie_plan::verify(&plan).expect("decoded plans verify");
        let _ = plan.to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut sealed = b"GENIEPLN".to_vec();
    sealed.extend_from_slice(&((1u32 << 16) | 0).to_le_bytes());
    sealed.extend_from_slice(&0u32.to_le_bytes());
    sealed.extend_from_slice(&(data.len() as u64).to_le_bytes());
    sealed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    sealed.extend_from_slice(data);
    check(&sealed);
});
