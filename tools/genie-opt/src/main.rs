//! `genie-opt`: parse, verify, transform and print Genie IR, like `mlir-opt`.
//!
//! ```text
//! genie-opt in.mlir --pass-pipeline='genie-sem-canonicalize,genie-cse' -o out.mlir
//! genie-opt in.mlir --genie-sem-infer-shapes --genie-cse --mlir-print-op-generic
//! genie-opt tests.mlir --split-input-file --verify-diagnostics
//! ```
//! Errors print as `file:line:col: error: …` and exit with status 1.

mod verify_diagnostics;

use clap::{Arg, ArgAction, ArgMatches, Command};
use genie_ir::{parse_module_at, print_module, verify, Diagnostics, Severity};
use genie_passes::{registered_passes, PassManager, Target, PHASES};
use std::io::{Read, Write};
use std::process::ExitCode;

const SPLIT_MARKER: &str = "// -----";

fn cli() -> Command {
    let mut cmd = Command::new("genie-opt")
        .about("Parse, verify, transform and print Genie IR (sem and exec dialects)")
        .arg(Arg::new("input").default_value("-").help("input file, or - for stdin"))
        .arg(Arg::new("output").short('o').default_value("-").help("output file, or - for stdout"))
        .arg(Arg::new("pass-pipeline").long("pass-pipeline").help("comma-separated passes, e.g. 'genie-sem-canonicalize,genie-cse'"))
        .arg(Arg::new("compile-to").long("compile-to").help(phase_help()))
        .arg(flag("split-input-file", "process each '// -----' chunk as its own module"))
        .arg(flag("verify-diagnostics", "check diagnostics against 'expected-error' comments"))
        .arg(flag("mlir-print-op-generic", "print MLIR's generic op form"))
        .arg(flag("print-ir-after-all", "print the IR to stderr after every pass"))
        .arg(Arg::new("print-ir-after").long("print-ir-after").action(ArgAction::Append).help("print the IR to stderr after this pass"))
        .arg(Arg::new("disable-pass").long("disable-pass").action(ArgAction::Append).help("skip this pass wherever it appears"))
        .arg(Arg::new("bisect-limit").long("genie-bisect-limit").value_parser(clap::value_parser!(usize)).help("run at most N passes"))
        .arg(flag("verify-each", "verify after every pass (default in debug builds)"))
        .arg(flag("timing", "report the time spent parsing, verifying, in each pass and printing (stderr)"))
        .arg(flag("dump-plan", "compile each function to plan bytecode and print its disassembly (encoded and decoded first); what --compile-to=plan prints"))
        .arg(Arg::new("target").long("target").value_name("FILE").help("the target (devices and links, TOML) placement passes place on; default: one embedded CPU"))
        .arg(flag("explain", "print every placement decision with the rule that made it, instead of the IR"))
        .arg(flag("list-passes", "list the registered passes"))
        .arg(flag("list-ops", "list the registered ops"))
        .arg(Arg::new("emit-irdl").long("emit-irdl").help("print the IRDL specification of a dialect (sem or exec)"));
    for (name, description) in registered_passes() {
        // Append (valueless), so a pass may be given more than once and each
        // occurrence keeps its command-line position.
        cmd = cmd.arg(
            Arg::new(name).long(name).action(ArgAction::Append).num_args(0).default_missing_value("").value_name("").help(description),
        );
    }
    cmd
}

fn flag(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue).help(help)
}

fn phase_help() -> String {
    let names: Vec<&str> = PHASES.iter().map(|p| p.0).collect();
    format!("run the pipeline up to a phase: {}", names.join(", "))
}

fn main() -> ExitCode {
    // Any bug becomes a clear one-line error with status 1, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("genie-opt: internal error: {info}");
    }));
    match std::panic::catch_unwind(|| run(cli().get_matches())) {
        Ok(Ok(code)) => code,
        Ok(Err(msg)) => {
            eprintln!("genie-opt: error: {msg}");
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(1),
    }
}

struct Options {
    generic: bool,
    dump_plan: bool,
    explain: bool,
    timing: bool,
    verify_diagnostics: bool,
    print_after_all: bool,
    print_after: Vec<String>,
}

fn run(matches: ArgMatches) -> Result<ExitCode, String> {
    if matches.get_flag("list-passes") {
        for (name, description) in registered_passes() {
            println!("  --{name:<28} {description}");
        }
        println!("phases (--compile-to):");
        for (phase, passes) in PHASES {
            let what = match *phase {
                "input" => "parse and verify".to_string(),
                "plan" => "codegen: the exec form as plan bytecode (prints its disassembly)".to_string(),
                _ => passes.join(", "),
            };
            println!("  {phase:<30} {what}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if matches.get_flag("list-ops") {
        for def in genie_ir::dialects::all_ops() {
            println!("{:<44} {}", def.name, def.summary);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(dialect) = matches.get_one::<String>("emit-irdl") {
        let text = genie_ir::dialects::irdl::emit_irdl(dialect).ok_or_else(|| format!("no IRDL for dialect '{dialect}' (sem or exec)"))?;
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }

    let input = matches.get_one::<String>("input").expect("has default");
    let (filename, source) = read_input(input)?;
    let opts = Options {
        generic: matches.get_flag("mlir-print-op-generic"),
        dump_plan: matches.get_flag("dump-plan") || matches.get_one::<String>("compile-to").is_some_and(|p| p == "plan"),
        explain: matches.get_flag("explain"),
        timing: matches.get_flag("timing"),
        verify_diagnostics: matches.get_flag("verify-diagnostics"),
        print_after_all: matches.get_flag("print-ir-after-all"),
        print_after: matches.get_many::<String>("print-ir-after").map(|v| v.cloned().collect()).unwrap_or_default(),
    };
    let target = match matches.get_one::<String>("target") {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read target '{path}': {e}"))?;
            Target::parse(&text).map_err(|e| format!("target '{path}': {e}"))?
        }
        None => Target::embedded_cpu(),
    };
    let pipeline = pass_names(&matches)?;
    // Validate names up front so a typo fails before any work.
    build_pass_manager(&pipeline, &matches, &target)?;

    let chunks: Vec<(u32, &str)> = if matches.get_flag("split-input-file") { split_chunks(&source) } else { vec![(0, source.as_str())] };
    let mut outputs = Vec::new();
    let mut failed = false;
    for (line_offset, chunk) in chunks {
        let mut pm = build_pass_manager(&pipeline, &matches, &target)?;
        let result = process_chunk(chunk, &filename, line_offset, &mut pm, &opts);
        if opts.verify_diagnostics {
            let produced = match &result {
                Ok(_) => Diagnostics::new(),
                Err(d) => d.clone(),
            };
            if let Err(problems) = verify_diagnostics::check(chunk, &filename, line_offset, &produced) {
                eprintln!("{problems}");
                failed = true;
            }
            if let Ok(text) = result {
                outputs.push(text);
            }
            continue;
        }
        match result {
            Ok(text) => outputs.push(text),
            Err(d) => {
                eprintln!("{d}");
                failed = true;
            }
        }
    }
    write_output(matches.get_one::<String>("output").expect("has default"), &outputs.join(&format!("{SPLIT_MARKER}\n")))?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn read_input(input: &str) -> Result<(String, String), String> {
    if input == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| format!("cannot read stdin: {e}"))?;
        Ok(("<stdin>".to_string(), s))
    } else {
        let bytes = std::fs::read(input).map_err(|e| format!("cannot read '{input}': {e}"))?;
        let s = String::from_utf8(bytes).map_err(|e| format!("'{input}' is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))?;
        Ok((input.to_string(), s))
    }
}

fn write_output(path: &str, text: &str) -> Result<(), String> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        // A closed pipe (e.g. `| head`) is not an error worth reporting.
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        Ok(())
    } else {
        std::fs::write(path, text).map_err(|e| format!("cannot write '{path}': {e}"))
    }
}

/// Pass flags and `--pass-pipeline` entries, in command-line order.
fn pass_names(matches: &ArgMatches) -> Result<Vec<String>, String> {
    let mut ordered: Vec<(usize, String)> = Vec::new();
    for (name, _) in registered_passes() {
        for i in matches.indices_of(name).into_iter().flatten() {
            ordered.push((i, name.to_string()));
        }
    }
    if let Some(p) = matches.get_one::<String>("pass-pipeline") {
        let at = matches.index_of("pass-pipeline").unwrap_or(0);
        for name in PassManager::parse_pipeline(p)?.pass_names() {
            ordered.push((at, name.to_string()));
        }
    }
    ordered.sort_by_key(|(i, _)| *i);
    Ok(ordered.into_iter().map(|(_, n)| n).collect())
}

fn build_pass_manager(pipeline: &[String], matches: &ArgMatches, target: &Target) -> Result<PassManager, String> {
    let mut pm = match matches.get_one::<String>("compile-to") {
        Some(phase) => PassManager::for_phase_on(phase, target)?,
        None => PassManager::on(target),
    };
    for name in pipeline {
        pm.add_named(name)?;
    }
    let known = |flag: &str, name: &str| {
        if registered_passes().iter().any(|(n, _)| *n == name) {
            Ok(())
        } else {
            Err(format!("--{flag}: unknown pass '{name}'"))
        }
    };
    for d in matches.get_many::<String>("disable-pass").into_iter().flatten() {
        known("disable-pass", d)?;
        pm.options.disabled.push(d.clone());
    }
    for p in matches.get_many::<String>("print-ir-after").into_iter().flatten() {
        known("print-ir-after", p)?;
    }
    if matches.get_flag("verify-each") {
        pm.options.verify_each = true;
    }
    pm.options.bisect_limit = matches.get_one::<usize>("bisect-limit").copied();
    Ok(pm)
}

/// Splits on `// -----` lines, remembering where each chunk starts.
fn split_chunks(source: &str) -> Vec<(u32, &str)> {
    let mut chunks = Vec::new();
    let (mut start, mut start_line, mut line) = (0usize, 0u32, 0u32);
    let mut offset = 0usize;
    for l in source.split_inclusive('\n') {
        if l.trim_end() == SPLIT_MARKER {
            chunks.push((start_line, &source[start..offset]));
            start = offset + l.len();
            start_line = line + 1;
        }
        offset += l.len();
        line += 1;
    }
    chunks.push((start_line, &source[start..]));
    chunks
}

fn process_chunk(chunk: &str, filename: &str, line_offset: u32, pm: &mut PassManager, opts: &Options) -> Result<String, Diagnostics> {
    let mut timer = Timer::new(opts.timing);
    let mut module = parse_module_at(chunk, filename, line_offset)?;
    timer.lap("parse");
    verify(&module)?;
    timer.lap("verify");
    let generic = opts.generic;
    let mut ran_any = false;
    pm.run_with(&mut module, &mut |pass, m| {
        ran_any = true;
        timer.lap(pass);
        if opts.print_after_all || opts.print_after.iter().any(|p| p == pass) {
            eprint!("// -----// IR Dump After {pass} //----- //\n{}\n", print_module(m, generic));
            timer.restart();
        }
    })?;
    if ran_any && !pm.options.verify_each {
        verify(&module).map_err(|mut d| {
            d.push(Severity::Note, filename, None, "IR is invalid after the pass pipeline");
            d
        })?;
        timer.lap("verify");
    }
    let text = if opts.explain {
        genie_passes::place::explain(&module)
    } else if opts.dump_plan {
        dump_plans(&module)?
    } else {
        print_module(&module, generic)
    };
    timer.lap(if opts.dump_plan { "plan" } else { "print" });
    timer.report();
    // The process exits soon; returning the memory piecemeal would cost more
    // than everything above (clang's -disable-free does the same).
    std::mem::forget(module);
    Ok(text)
}

/// Each function as plan bytecode, round-tripped through the container so the
/// decoder and verifier check what the encoder wrote, then disassembled.
fn dump_plans(module: &genie_ir::Module) -> Result<String, Diagnostics> {
    let fail = |msg: String| Diagnostics::error(&module.file, module.src, msg);
    let mut out = String::new();
    for plan in genie_codegen::compile_module(module).map_err(|e| fail(format!("cannot build a plan: {e}")))? {
        let bytes = genie_plan::encode(&plan);
        let decoded = genie_plan::decode(&bytes).map_err(|e| fail(format!("plan @{} does not survive encoding: {e}", plan.name)))?;
        out.push_str(&format!("// {} bytes\n{decoded}", bytes.len()));
    }
    Ok(out)
}

/// `--timing`: wall time per step, like `mlir-opt --mlir-timing`.
struct Timer {
    enabled: bool,
    last: std::time::Instant,
    laps: Vec<(String, std::time::Duration)>,
}

impl Timer {
    fn new(enabled: bool) -> Self {
        Timer { enabled, last: std::time::Instant::now(), laps: Vec::new() }
    }

    fn lap(&mut self, name: &str) {
        if self.enabled {
            let now = std::time::Instant::now();
            self.laps.push((name.to_string(), now - self.last));
            self.last = now;
        }
    }

    /// Excludes time spent on IR dumps.
    fn restart(&mut self) {
        self.last = std::time::Instant::now();
    }

    fn report(&self) {
        if !self.enabled {
            return;
        }
        let total: std::time::Duration = self.laps.iter().map(|l| l.1).sum();
        eprintln!("===-- genie-opt timing --===");
        for (name, d) in &self.laps {
            eprintln!("  {:>9.3} ms  {name}", d.as_secs_f64() * 1e3);
        }
        eprintln!("  {:>9.3} ms  total", total.as_secs_f64() * 1e3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_flags_keep_order_and_repeats() {
        let m = cli()
            .try_get_matches_from(["genie-opt", "x.mlir", "--genie-cse", "--pass-pipeline=genie-sem-infer-shapes", "--genie-sem-canonicalize", "--genie-cse"])
            .unwrap();
        assert_eq!(pass_names(&m).unwrap(), ["genie-cse", "genie-sem-infer-shapes", "genie-sem-canonicalize", "genie-cse"]);
    }

    #[test]
    fn chunks_keep_line_offsets() {
        let src = "a\n// -----\nb\nc\n// -----\nd\n";
        let chunks = split_chunks(src);
        assert_eq!(chunks, vec![(0, "a\n"), (2, "b\nc\n"), (5, "d\n")]);
    }
}
