//! The wire protocol's decoders on random and mutated input (the stable
//! counterpart of `remote/fuzz`): errors, never panics, and whatever
//! decodes encodes back to itself.

use genie_remote::protocol::*;
use proptest::prelude::*;

/// Valid frames of every shape a client sends, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let t = TensorMeta { dtype: genie_plan::DType::F32, shape: vec![2, 3] };
    let msgs = [
        Msg::Hello { major: 1, minor: 1, features: 7, token: b"tok".to_vec(), client: "c".into(), resume: Some((3, [5; 32])) },
        Msg::Has { hashes: vec![[1; 32], [2; 32]] },
        Msg::PutTensor { hash: [4; 32], meta: t.clone() },
        Msg::Load { plan: [6; 32], binds: vec![(Slot::Input(1), [7; 32]), (Slot::Constant("c0".into()), [8; 32])], proofs: vec![[1; 32], [2; 32]] },
        Msg::Run { exec: 0, args: vec![Arg::Tensor(t), Arg::Handle(9), Arg::Int(-4), Arg::Float(0.5), Arg::None], ret: vec![true, false], release: vec![1, 2], deadline_ms: Some(250) },
        Msg::Release { handles: vec![3] },
    ];
    msgs.iter()
        .map(|m| {
            let meta = m.encode_meta();
            let mut f = Header { kind: m.kind(), flags: 0, meta_len: meta.len() as u32, payload_len: 24, request: 1 }.encode().to_vec();
            f.extend_from_slice(&meta);
            f
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        fuzz_one(&data);
    }

    #[test]
    fn mutated_frames_never_panic(which in 0usize..6, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>()) {
        let mut f = seeds()[which].clone();
        for (at, x) in flips {
            let i = at % f.len();
            f[i] ^= x;
        }
        f.truncate(cut % (f.len() + 1));
        fuzz_one(&f);
    }
}
