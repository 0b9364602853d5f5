//! Writes the synthetic GPT-2-like benchmark module to stdout:
//! `cargo run --release -p genie-benches --example gen_module -- 20000 > big.mlir`
fn main() {
    let ops = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    print!("{}", genie_benches::gpt2_like_module(ops));
}
