//! Plan bytecode: a `sem` function compiled to a plan ([`compile`]), the
//! versioned container that carries it ([`bytecode`]: encoder, decoder,
//! verifier) and its disassembly (`Display` on [`Plan`], used by
//! `genie-opt --dump-plan` and the lit tests).

pub mod bytecode;
pub mod compile;
pub mod plan;

pub use bytecode::{decode, encode, verify, PlanError, VERSION_MAJOR, VERSION_MINOR};
pub use compile::{compile_function, compile_module};
pub use plan::{Buffer, Instr, Plan, Role, ValueInfo};

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"
module {
  func.func @f(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>, %n: tensor<s0x8xf32>) -> (tensor<4x8xf32>, tensor<s0x8xf32>) attributes {genie.weight_args = [1]} {
    %c = sem.constant {value = dense_resource<table> : tensor<8xf32>} : tensor<8xf32>
    %0 = sem.mm %x, %w : tensor<4x8xf32>
    %1 = sem.relu %0 : tensor<4x8xf32>
    %2 = sem.add %1, %c : tensor<4x8xf32>
    %3 = sem.neg %2 : tensor<4x8xf32>
    %4 = sem.exp %n : tensor<s0x8xf32>
    return %3, %4 : tensor<4x8xf32>, tensor<s0x8xf32>
  }
}
"#;

    fn plan() -> Plan {
        let m = genie_ir::parse_module(GRAPH, "t.mlir").unwrap();
        genie_ir::verify(&m).unwrap();
        compile_module(&m).unwrap().remove(0)
    }

    #[test]
    fn roles_and_buffer_reuse() {
        let p = plan();
        let roles: Vec<&str> = p.values.iter().map(|v| v.role.name()).collect();
        assert_eq!(roles, ["input", "weight", "input", "constant", "temp", "temp", "temp", "output", "output"]);
        // %0 dies when %1 is made, %1 when %2 is: 128-byte temporaries need
        // two buffers, not three.
        assert_eq!(p.unshared_temp_bytes, 3 * 128);
        assert_eq!(p.buffers.len(), 2);
        assert_eq!(p.arena_size, 256);
        assert_eq!(p.peak_temp_bytes, 256);
        // The dynamic-size output gets no buffer.
        assert_eq!(p.values[8].buffer, None);
    }

    #[test]
    fn encode_decode_round_trip() {
        let p = plan();
        let bytes = encode(&p);
        let back = decode(&bytes).unwrap();
        assert_eq!(back, p);
        assert_eq!(encode(&back), bytes);
    }

    #[test]
    fn rejects_bad_containers() {
        let bytes = encode(&plan());
        let e = decode(&bytes[..bytes.len() - 3]).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(decode(&bad).unwrap_err().to_string().contains("bad magic"));
        let mut newer = bytes.clone();
        newer[8..12].copy_from_slice(&bytecode::packed_version(VERSION_MAJOR, VERSION_MINOR + 1).to_le_bytes());
        assert!(decode(&newer).unwrap_err().to_string().contains("newer than this runtime"));
        let mut other = bytes.clone();
        other[8..12].copy_from_slice(&bytecode::packed_version(VERSION_MAJOR + 1, 0).to_le_bytes());
        assert!(decode(&other).unwrap_err().to_string().contains("major versions differ"));
        let mut corrupt = bytes.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0x55;
        assert!(decode(&corrupt).unwrap_err().to_string().contains("checksum"));
    }

    #[test]
    fn verifier_rejects_use_before_definition() {
        let mut p = plan();
        p.code.swap(1, 2);
        let e = verify(&p).unwrap_err().to_string();
        assert!(e.contains("before it is defined"), "{e}");
    }

    #[test]
    fn disassembly_is_readable() {
        let text = plan().to_string();
        assert!(text.starts_with("plan @f v1.0: 3 inputs, 2 outputs, 6 instructions"), "{text}");
        assert!(text.contains("memory: arena 256 B, peak temporaries 256 B (without reuse 384 B), 2 buffers"), "{text}");
        assert!(text.contains("%4 = sem.mm %0, %1"), "{text}");
    }
}
