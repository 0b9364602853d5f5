//! Workloads for Genie's benchmarks.
//!
//! [`gpt2_like_module`] stacks copies of `examples/gpt2_block.mlir` (weights
//! become `dense_resource` constants, each layer feeds the next) until the
//! module holds the requested number of ops: the 20,000-op module the IR
//! goals are stated for.

/// Starts `genie-runtime serve` in this process on its own threads
/// (listening on 127.0.0.1, any port) and returns its address.
pub fn start_remote_server(worker_threads: usize, memory_limit: u64) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(worker_threads).enable_all().build().expect("tokio runtime");
        let (_keep, shutdown) = tokio::sync::watch::channel(false);
        let config = genie_remote::server::Config {
            listen: "127.0.0.1:0".into(),
            memory_limit,
            token: None,
            metrics: None,
            idle_timeout: std::time::Duration::from_secs(600),
            max_payload: memory_limit,
            ready: Some(tx),
            tls: None,
        };
        rt.block_on(genie_remote::server::serve(config, shutdown)).expect("genie-runtime serve");
    });
    rx.recv().expect("the server reports its address")
}

const BLOCK: &str = include_str!("../../examples/gpt2_block.mlir");

/// Custom-form text of a GPT-2-like module with at least `min_ops` ops.
pub fn gpt2_like_module(min_ops: usize) -> String {
    let header = BLOCK.lines().find(|l| l.trim_start().starts_with("func.func")).expect("example has a function");
    let arg_types = parse_arg_types(header);
    let body: Vec<&str> = BLOCK
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("func.func"))
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("return"))
        .collect();
    let input_ty = &arg_types[0];
    let mut out = String::new();
    out.push_str("module @gpt2_like attributes {genie.symbols = {s0 = [1, 1024]}} {\n");
    out.push_str(&format!("  func.func @forward(%x: {input_ty}) -> {input_ty} {{\n"));
    let (mut ops, mut layer, mut prev) = (0usize, 0usize, "%x".to_string());
    while ops < min_ops {
        for (k, ty) in arg_types.iter().enumerate().skip(1) {
            out.push_str(&format!("    %w{layer}_{k} = sem.constant {{value = dense_resource<h{layer}.w{k}> : {ty}}} : {ty}\n"));
            ops += 1;
        }
        let mut last = String::new();
        for line in &body {
            let line = rename(line, layer, &prev);
            if let Some(def) = line.trim_start().strip_prefix('%') {
                last = format!("%{}", def.split([' ', ':']).next().unwrap_or_default());
            }
            out.push_str(&line);
            out.push('\n');
            ops += 1;
        }
        prev = last;
        layer += 1;
    }
    out.push_str(&format!("    return {prev} : {input_ty}\n  }}\n}}\n"));
    out
}

fn parse_arg_types(header: &str) -> Vec<String> {
    let args = &header[header.find('(').expect("(") + 1..header.find(") ->").expect(") ->")];
    args.split("%arg").skip(1).map(|a| a.split_once(": ").expect("typed arg").1.trim_end_matches([',', ' ']).to_string()).collect()
}

/// Renames `%argK` to layer weights (or the previous output) and `%N` to `%lL_N`.
fn rename(line: &str, layer: usize, prev: &str) -> String {
    let mut out = String::with_capacity(line.len() + 32);
    let mut rest = line;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let len = tail.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(tail.len());
        let name = &tail[..len];
        match name.strip_prefix("arg") {
            Some("0") => out.push_str(prev),
            Some(k) => out.push_str(&format!("%w{layer}_{k}")),
            None => out.push_str(&format!("%l{layer}_{name}")),
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_module_is_valid_and_large_enough() {
        let text = gpt2_like_module(2_000);
        let m = genie_ir::parse_module(&text, "gen.mlir").unwrap_or_else(|d| panic!("{d}"));
        genie_ir::verify(&m).unwrap_or_else(|d| panic!("{d}"));
        assert!(m.num_ops() >= 2_000);
    }
}
