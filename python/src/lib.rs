//! `genie._genie`: the Python face of the Genie IR and pass pipeline.
//!
//! A thin layer over `genie-ir` and `genie-passes`; the Python package `genie`
//! re-exports everything here. Every error coming out of Rust (parse,
//! verification, pipeline or pass failure) is raised as `genie.IRError`, a
//! `ValueError` whose message is the diagnostics text, one
//! `file:line:col: error: msg` per line.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

mod remote;
mod analysis;
mod runtime;
use runtime::{blas_provider, use_host_blas, Executable};

create_exception!(
    genie,
    IRError,
    PyValueError,
    "Invalid Genie IR: a parse, verification, pipeline or pass error.\n\n\
     The message holds the diagnostics, one `file:line:col: error: msg` per line."
);

fn ir_error(err: impl std::fmt::Display) -> PyErr {
    IRError::new_err(err.to_string())
}

/// A Genie IR module (an MLIR `module` holding `sem`/`exec` ops).
///
/// Create one with `genie.parse(text)`.
#[pyclass(module = "genie", name = "Module")]
struct Module {
    inner: genie_ir::Module,
}

#[pymethods]
impl Module {
    /// The module as MLIR text: the readable custom form, or MLIR's generic form
    /// (`"sem.mm"(%a, %b) : (...) -> ...`) when `generic` is true.
    #[pyo3(signature = (generic = false))]
    fn print(&self, generic: bool) -> String {
        genie_ir::print_module(&self.inner, generic)
    }

    fn __str__(&self) -> String {
        self.print(false)
    }

    fn __repr__(&self) -> String {
        format!("<genie.Module with {} ops>", self.inner.num_ops())
    }

    /// Check the module's invariants; raises `IRError` with the diagnostics.
    fn verify(&self) -> PyResult<()> {
        genie_ir::verify(&self.inner).map_err(ir_error)
    }

    /// Run a comma-separated pass pipeline (e.g. `"genie-sem-canonicalize,genie-cse"`)
    /// on the module, in place. Raises `IRError` for an unknown pass or a failing
    /// pass; after a failing pass the module may be partly transformed.
    fn run_passes(&mut self, pipeline: &str) -> PyResult<()> {
        let mut pm = genie_passes::PassManager::parse_pipeline(pipeline).map_err(ir_error)?;
        pm.run(&mut self.inner).map_err(ir_error)
    }

    /// Compile the module for a target with Genie's one compile entry point
    /// (phases sem → annotate → exec → plan; the module itself is left as
    /// it is). `target` is a target file's text (TOML; default: one CPU in
    /// this process, running the ops this runtime has kernels for). Returns
    /// a `genie.Program`. Raises `IRError` naming the op and the PyTorch
    /// module for a graph the target cannot run.
    #[pyo3(signature = (target = None, keep_phases = false))]
    fn compile(&self, py: Python<'_>, target: Option<&str>, keep_phases: bool) -> PyResult<Program> {
        let target = match target {
            Some(text) => genie_plan::Target::parse(text).map_err(ir_error)?,
            None => embedded_target(),
        };
        let options = genie_compiler::Options { target, keep_phases };
        let program = py.detach(|| genie_compiler::compile_module(self.inner.clone(), &options)).map_err(ir_error)?;
        Ok(Program {
            plans: program.plans.iter().map(genie_plan::encode).collect(),
            manifests: program.manifests.iter().map(|m| m.to_json().to_string()).collect(),
            phases: program.phases.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
            timings: program.timings.into_iter().map(|(n, d)| (n.to_string(), d.as_secs_f64())).collect(),
        })
    }

    /// Run the pipeline up to `phase` (`sem`, `annotate`, `exec`), skipping
    /// the phases the module went through, as `genie-opt --compile-to`
    /// does; placement uses `target` (a target file's text; default: one
    /// CPU in this process). Raises `IRError`.
    #[pyo3(signature = (phase, target = None))]
    fn run_phase(&mut self, phase: &str, target: Option<&str>) -> PyResult<()> {
        let target = match target {
            Some(text) => genie_plan::Target::parse(text).map_err(ir_error)?,
            None => embedded_target(),
        };
        let mut pm = genie_passes::PassManager::for_phase_on(phase, &target).map_err(ir_error)?;
        pm.run(&mut self.inner).map_err(ir_error)
    }

    /// Compile every function to plan bytecode; returns one `bytes` per
    /// function (see `genie.disassemble`). Raises `IRError`.
    fn to_plans<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, pyo3::types::PyBytes>>> {
        let plans = genie_codegen::compile_module(&self.inner).map_err(ir_error)?;
        Ok(plans.iter().map(|p| pyo3::types::PyBytes::new(py, &genie_plan::encode(p))).collect())
    }

    /// Number of operations in the module.
    #[getter]
    fn num_ops(&self) -> usize {
        self.inner.num_ops()
    }
}

/// One CPU in this process that runs the ops this runtime has kernels for.
fn embedded_target() -> genie_plan::Target {
    let mut t = genie_plan::Target::embedded_cpu();
    t.devices[0].ops = Some(genie_plan::Op::ALL.iter().filter(|&&op| genie_runtime::kernels::kernel_for(op).is_some()).map(|op| op.name().to_string()).collect());
    t
}

/// The default target (one CPU in this process), as a target file.
#[pyfunction]
fn default_target() -> String {
    embedded_target().to_toml()
}

/// One CPU behind the server at `url` over a link of `bandwidth` bytes/s
/// and `latency` seconds one way, running this runtime's ops, as a target file.
#[pyfunction]
fn remote_target(url: &str, bandwidth: f64, latency: f64) -> String {
    let mut t = genie_plan::Target::remote_cpu(url, bandwidth, latency);
    t.devices[0].ops = embedded_target().devices[0].ops.take();
    t.to_toml()
}

/// What `Module.compile` returns: `plans` (plan bytecode per graph),
/// `manifests` (per plan, JSON: for every input and output the placement
/// rule, the device and whether it stays resident), `phases` (`(phase,
/// text)` after each phase, when asked for) and `timings` (`(step,
/// seconds)`).
#[pyclass(module = "genie", name = "Program")]
struct Program {
    plans: Vec<Vec<u8>>,
    #[pyo3(get)]
    manifests: Vec<String>,
    #[pyo3(get)]
    phases: Vec<(String, String)>,
    #[pyo3(get)]
    timings: Vec<(String, f64)>,
}

#[pymethods]
impl Program {
    #[getter]
    fn plans<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, pyo3::types::PyBytes>> {
        self.plans.iter().map(|p| pyo3::types::PyBytes::new(py, p)).collect()
    }
}

/// Parse MLIR text (custom or generic form) into a `Module`.
///
/// `filename` only names the source in diagnostics. Raises `IRError`.
#[pyfunction]
#[pyo3(signature = (text, filename = "<string>"))]
fn parse(text: &str, filename: &str) -> PyResult<Module> {
    genie_ir::parse_module(text, filename)
        .map(|inner| Module { inner })
        .map_err(ir_error)
}

/// Import one FX graph in Genie's JSON exchange format (written by
/// `genie.fx_export.export_graph`) into a verified `sem` module.
///
/// Raises `IRError` naming the unsupported op or argument and the PyTorch
/// module it came from.
#[pyfunction]
fn import_fx(graph_json: &str) -> PyResult<Module> {
    genie_frontend_fx::import_graph(graph_json).map(|inner| Module { inner }).map_err(ir_error)
}

/// Decode and verify plan bytecode and return its disassembly. Raises
/// `IRError` for truncated, corrupt or incompatible plans.
#[pyfunction]
fn disassemble(plan: &[u8]) -> PyResult<String> {
    genie_plan::decode(plan).map(|p| p.to_string()).map_err(ir_error)
}

/// The registered passes as `(name, description)` pairs.
#[pyfunction]
fn list_passes() -> Vec<(&'static str, &'static str)> {
    genie_passes::registered_passes()
}

/// The registered ops as `(name, summary)` pairs (`sem.*`, `exec.*`, `func.*`).
#[pyfunction]
fn list_ops() -> Vec<(&'static str, &'static str)> {
    genie_ir::dialects::all_ops().map(|d| (d.name, d.summary)).collect()
}

#[pymodule]
fn _genie(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("IRError", m.py().get_type::<IRError>())?;
    m.add_class::<Module>()?;
    m.add_class::<Program>()?;
    m.add_class::<Executable>()?;
    m.add_function(wrap_pyfunction!(parse, m)?)?;
    m.add_function(wrap_pyfunction!(list_passes, m)?)?;
    m.add_function(wrap_pyfunction!(list_ops, m)?)?;
    m.add_function(wrap_pyfunction!(import_fx, m)?)?;
    m.add_function(wrap_pyfunction!(disassemble, m)?)?;
    m.add_function(wrap_pyfunction!(default_target, m)?)?;
    m.add_function(wrap_pyfunction!(remote_target, m)?)?;
    m.add_function(wrap_pyfunction!(analysis::analyze_modules, m)?)?;
    m.add_function(wrap_pyfunction!(use_host_blas, m)?)?;
    m.add_function(wrap_pyfunction!(blas_provider, m)?)?;
    m.add_class::<remote::RemoteClient>()?;
    m.add("RemoteError", m.py().get_type::<remote::RemoteError>())?;
    m.add_function(wrap_pyfunction!(remote::tensor_hash, m)?)?;
    m.add_function(wrap_pyfunction!(remote::tensor_identity, m)?)?;
    m.add_function(wrap_pyfunction!(remote::plan_hash, m)?)?;
    Ok(())
}
