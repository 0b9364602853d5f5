//! Any bytes: the decoder returns a plan that verifies, or an error; it never
//! panics, loops or over-allocates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = genie_codegen::decode(data) {
        genie_codegen::verify(&plan).expect("decoded plans verify");
        let _ = plan.to_string();
    }
});
