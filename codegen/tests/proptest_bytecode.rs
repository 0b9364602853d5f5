//! The decoder against hostile input: random bytes, and valid plans with
//! random damage — including damage behind a recomputed checksum, so every
//! table and index check is reached. It must return an error or a plan that
//! verifies, never panic; and valid plans round-trip exactly.

use genie_codegen::compile_module;
use genie_plan::{decode, encode, verify};
use proptest::prelude::*;

const HEADER_LEN: usize = 28;

fn example_plan_bytes() -> Vec<u8> {
    let src = include_str!("../../examples/gpt2_block.mlir");
    let m = genie_ir::parse_module(src, "gpt2_block.mlir").unwrap();
    encode(&compile_module(&m).unwrap()[0])
}

/// Rewrites the header's length and checksum to match a damaged payload.
fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() < HEADER_LEN {
        return bytes;
    }
    let len = (bytes.len() - HEADER_LEN) as u64;
    bytes[16..24].copy_from_slice(&len.to_le_bytes());
    let crc = crc32fast::hash(&bytes[HEADER_LEN..]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn example_round_trips() {
    let bytes = example_plan_bytes();
    let plan = decode(&bytes).unwrap();
    assert_eq!(encode(&plan), bytes);
    assert!(plan.peak_temp_bytes <= plan.unshared_temp_bytes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
        let mut with_magic = b"GENIEPLN".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = decode(&reseal(with_magic));
    }

    #[test]
    fn damaged_plans_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                                 cut in any::<prop::sample::Index>()) {
        let good = example_plan_bytes();
        let mut bad = good.clone();
        for (at, byte) in flips {
            let i = HEADER_LEN + at.index(bad.len() - HEADER_LEN);
            bad[i] = byte;
        }
        // Behind a stale checksum: must be rejected as corrupt.
        if bad != good {
            prop_assert!(decode(&bad).is_err());
        }
        // Behind a fixed-up checksum: any outcome but a panic; a plan that
        // decodes also verifies.
        if let Ok(plan) = decode(&reseal(bad.clone())) {
            prop_assert!(verify(&plan).is_ok());
        }
        let keep = HEADER_LEN + cut.index(good.len() - HEADER_LEN);
        prop_assert!(decode(&reseal(good[..keep].to_vec())).is_err());
    }
}
