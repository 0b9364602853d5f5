//! The plan format: round trips, the container's checks, the verifier's.

use genie_plan::bytecode::{packed_version, HEADER_LEN};
use genie_plan::*;

fn t(dims: &[i64]) -> Type {
    Type::tensor(dims.iter().map(|&d| Dim::Static(d)).collect::<Vec<_>>(), DType::F32)
}

fn none() -> AttrDict {
    AttrDict::new()
}

/// x @ w + bias, relu, on one CPU; the relu result is kept on the device.
fn linear() -> Plan {
    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(d, &t(&[4, 8]), Role::Input);
    let w = b.input(d, &t(&[8, 8]), Role::Weight);
    let bias = b.resident("bias", &t(&[8]), d, ResidentKind::Constant);
    let bv = b.load(d, bias);
    let mm = b.call(d, Op::Mm, &[x, w], &none(), &[t(&[4, 8])])[0];
    let add = b.call(d, Op::Add, &[mm, bv], &none(), &[t(&[4, 8])])[0];
    let relu = b.call(d, Op::Relu, &[add], &none(), &[t(&[4, 8])])[0];
    b.buffer(mm, 128);
    b.output(relu, true);
    b.output(add, false);
    b.finish().unwrap()
}

/// Device 0 computes a product and sends it to device 1, which negates it.
fn two_devices() -> Builder {
    let mut b = Builder::new("split");
    let (d0, d1) = (b.device("dev0", DeviceKind::Cpu), b.device("dev1", DeviceKind::Cpu));
    let x = b.input(d0, &t(&[2, 2]), Role::Input);
    let y = b.call(d0, Op::Mm, &[x, x], &none(), &[t(&[2, 2])])[0];
    let there = b.send(d0, y, d1);
    b.await_value(d1, there);
    let z = b.call(d1, Op::Neg, &[there], &none(), &[t(&[2, 2])])[0];
    b.output(z, false);
    b
}

#[test]
fn encode_decode_round_trip() {
    for p in [linear(), two_devices().finish().unwrap()] {
        let bytes = encode(&p);
        let back = decode(&bytes).unwrap();
        assert_eq!(back, p);
        assert_eq!(encode(&back), bytes);
    }
}

#[test]
fn disassembly_is_readable() {
    let text = linear().to_string();
    assert!(text.starts_with("plan @f v2.0: 1 device, 2 inputs, 2 outputs, 4 instructions"), "{text}");
    assert!(text.contains("#0 @dev0 cpu, arena 128 B"), "{text}");
    assert!(text.contains("@0 constant bias tensor<8xf32> on #0"), "{text}");
    assert!(text.contains("%2 = load @0 (bias)"), "{text}");
    assert!(text.contains("%3 = sem.mm %0, %1"), "{text}");
    assert!(text.contains("return (%5 kept, %4)"), "{text}");
    let two = two_devices().finish().unwrap().to_string();
    assert!(two.contains("send %1 -> %2 on #1"), "{two}");
    assert!(two.contains("stream #1 @dev1:\n     0: await %2\n     1: %3 = sem.neg %2"), "{two}");
}

#[test]
fn rejects_bad_containers() {
    let bytes = encode(&linear());
    let e = decode(&bytes[..bytes.len() - 3]).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(decode(&bad).unwrap_err().to_string().contains("bad magic"));
    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&packed_version(VERSION_MAJOR, VERSION_MINOR + 1).to_le_bytes());
    assert!(decode(&newer).unwrap_err().to_string().contains("newer than this runtime"));
    let mut old = bytes.clone();
    old[8..12].copy_from_slice(&packed_version(1, 0).to_le_bytes());
    let e = decode(&old).unwrap_err().to_string();
    assert!(e.contains("plan format 1.0 is not readable by this runtime (format 2.0): major versions differ"), "{e}");
    let mut corrupt = bytes.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x55;
    assert!(decode(&corrupt).unwrap_err().to_string().contains("checksum"));
}

/// Re-seals a payload edited in place so only the verifier can object.
fn reseal(bytes: &mut [u8]) {
    let crc = crc32fast::hash(&bytes[HEADER_LEN..]);
    bytes[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn unknown_opcodes_are_named() {
    let p = linear();
    let mut bytes = encode(&p);
    // The first call's opcode follows its tag; find it by its value.
    let code = Op::Mm.code().to_le_bytes();
    let at = (HEADER_LEN..bytes.len() - 1).find(|&i| bytes[i - 1] == 0 && bytes[i..i + 2] == code).unwrap();
    bytes[at..at + 2].copy_from_slice(&0xfff0u16.to_le_bytes());
    reseal(&mut bytes);
    let e = decode(&bytes).unwrap_err().to_string();
    assert!(e.contains("unknown opcode 65520"), "{e}");
}

#[test]
fn hostile_counts_do_not_allocate() {
    // A value table claiming 2^32 - 1 entries in a tiny payload.
    let mut b = Builder::new("f");
    b.device("d", DeviceKind::Cpu);
    let mut bytes = encode(&b.finish().unwrap());
    let n = bytes.len();
    // name(5) + devices(4 + 4+1 + 1 + 8) + types(4) + attrs(4): the value count follows.
    let at = HEADER_LEN + 5 + 18 + 4 + 4;
    assert!(at + 4 <= n);
    bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut bytes);
    let e = decode(&bytes).unwrap_err().to_string();
    assert!(e.contains("value table: 4294967295 entries cannot fit"), "{e}");
}

#[test]
fn verifier_applies_the_shape_rules() {
    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(d, &t(&[4, 8]), Role::Input);
    let y = b.call(d, Op::Mm, &[x, x], &none(), &[t(&[4, 8])])[0];
    b.output(y, false);
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("stream #0 instruction 0 ('sem.mm')"), "{e}");
    assert!(e.contains("[4,8] x [4,8]") || e.contains("8") && e.contains("4"), "{e}");

    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(d, &t(&[4, 8]), Role::Input);
    let y = b.call(d, Op::Relu, &[x], &none(), &[t(&[4, 9])])[0];
    b.output(y, false);
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("result #0 has type tensor<4x9xf32>, but its operands give tensor<4x8xf32>"), "{e}");

    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(d, &t(&[4, 8]), Role::Input);
    let y = b.call(d, Op::Sum, &[x], &none(), &[t(&[])])[0];
    b.output(y, false);
    b.finish().unwrap();
    let mut b = Builder::new("f");
    let d = b.device("dev0", DeviceKind::Cpu);
    let x = b.input(d, &t(&[4, 8]), Role::Input);
    let y = b.call(d, Op::View, &[x], &none(), &[t(&[32])])[0];
    b.output(y, false);
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("requires attribute 'size'"), "{e}");
}

#[test]
fn verifier_checks_streams_and_devices() {
    // A value used on a device it does not live on.
    let mut b = Builder::new("f");
    let (d0, d1) = (b.device("a", DeviceKind::Cpu), b.device("b", DeviceKind::Cpu));
    let x = b.input(d0, &t(&[2]), Role::Input);
    let y = b.call(d1, Op::Neg, &[x], &none(), &[t(&[2])])[0];
    b.output(y, false);
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("stream #1 instruction 0 ('sem.neg') uses value %0, which lives on device #0"), "{e}");

    // Using a transferred value before awaiting it.
    let mut b = Builder::new("f");
    let (d0, d1) = (b.device("a", DeviceKind::Cpu), b.device("b", DeviceKind::Cpu));
    let x = b.input(d0, &t(&[2]), Role::Input);
    let there = b.send(d0, x, d1);
    let y = b.call(d1, Op::Neg, &[there], &none(), &[t(&[2])])[0];
    b.output(y, false);
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("uses value %1 before it is defined"), "{e}");

    // Two streams each waiting for the other first.
    let mut b = Builder::new("f");
    let (d0, d1) = (b.device("a", DeviceKind::Cpu), b.device("b", DeviceKind::Cpu));
    let x = b.input(d0, &t(&[2]), Role::Input);
    let y = b.input(d1, &t(&[2]), Role::Input);
    let p = b.plan_mut();
    let (xa, yb) = (p.values.len() as u32, p.values.len() as u32 + 1);
    p.values.push(p.values[y as usize].clone());
    p.values.push(p.values[x as usize].clone());
    p.values[xa as usize].role = Role::Temporary;
    p.values[yb as usize].role = Role::Temporary;
    // xa lives on d1, yb on d0; each stream awaits before it sends.
    p.streams[d0 as usize] = vec![Instr::Await { value: yb }, Instr::Send { value: x, result: xa }];
    p.streams[d1 as usize] = vec![Instr::Await { value: xa }, Instr::Send { value: y, result: yb }];
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("the streams deadlock"), "{e}");

    // A store into a constant.
    let mut b = Builder::new("f");
    let d = b.device("a", DeviceKind::Cpu);
    let x = b.input(d, &t(&[2]), Role::Input);
    let c = b.resident("c", &t(&[2]), d, ResidentKind::Constant);
    b.store(d, c, x);
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("writes resident c, a constant"), "{e}");

    // A buffer past its arena.
    let mut b = Builder::new("f");
    let d = b.device("a", DeviceKind::Cpu);
    let x = b.input(d, &t(&[2]), Role::Input);
    let y = b.call(d, Op::Neg, &[x], &none(), &[t(&[2])])[0];
    b.buffer(y, 64);
    b.plan_mut().devices[0].arena_size = 32;
    let e = b.finish().unwrap_err().to_string();
    assert!(e.contains("buffer #0 ends past the 32-byte arena of device @a"), "{e}");
}

#[test]
fn opcodes_are_stable() {
    // Opcodes are the wire numbering of ops: this list may grow at the end
    // of a number range, but an existing number never changes meaning
    // without a new plan major version.
    let listed: Vec<String> = Op::ALL.iter().map(|o| format!("{} {}", o.code(), o.name())).collect();
    let golden = include_str!("opcodes.txt");
    let golden: Vec<&str> = golden.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect();
    for line in &golden {
        assert!(listed.iter().any(|l| l == line), "opcode '{line}' changed or disappeared: that needs plan format {}.0", VERSION_MAJOR + 1);
    }
    for line in &listed {
        assert!(golden.contains(&line.as_str()), "new opcode '{line}': add it to plan/tests/opcodes.txt");
    }
    for o in Op::ALL {
        assert_eq!(Op::from_code(o.code()), Some(*o));
        assert_eq!(Op::from_name(o.name()), Some(*o));
    }
}
