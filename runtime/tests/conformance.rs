//! The backend conformance suite on the CPU backend.

use genie_runtime::conformance;
use genie_runtime::Cpu;

#[test]
fn cpu_backend_conforms() {
    let report = conformance::run(Cpu::shared());
    assert!(report.failures.is_empty(), "{} failures:\n{}", report.failures.len(), report.failures.join("\n"));
    // Every sampled op runs on the CPU; the ones it refuses are listed here
    // so a new refusal is a decision, not an accident.
    let refused: Vec<&str> = report.refused.iter().map(|(op, _)| op.name()).collect();
    // (aot_autograd decomposes these before Genie sees them.)
    let expected = [
        "sem.matmul",
        "sem.scaled_dot_product_attention",
        "sem.threshold_backward",
        "sem.gelu_backward",
        "sem.silu_backward",
        "sem.hardtanh_backward",
        "sem.tanh_backward",
        "sem.sigmoid_backward",
        "sem._softmax_backward_data",
        "sem._log_softmax_backward_data",
        "sem.native_dropout_backward",
    ];
    assert_eq!(refused, expected, "{:?}", report.refused);
    assert!(report.ran.len() >= 110, "only {} ops ran", report.ran.len());
    let unsampled: Vec<&str> = report.unsampled.iter().map(|op| op.name()).collect();
    eprintln!("ran {} ops; unsampled (covered by the model tests): {unsampled:?}", report.ran.len());
}
