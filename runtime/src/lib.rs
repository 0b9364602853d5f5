//! The plan interpreter and its CPU backend.
//!
//! [`Executable::load`] resolves every instruction of a decoded plan to a
//! kernel up front, so an op the backend lacks is reported before anything
//! runs (the caller can then fall back to eager PyTorch). Constants
//! (`dense_resource` weights) are bound once with [`Executable::bind`], by
//! reference when they come from torch. [`Executable::run`] binds the shape
//! symbols from the inputs, checks every input against the plan's types,
//! runs the instructions in order and drops each value after its last use.
//!
//! Kernels come from a [`Backend`] (the CPU one by default).
//!
//! Tensors are immutable and shared: views and same-type copies cost
//! nothing. An output that shares memory with an input or a constant is
//! copied on the way out, so callers never receive an alias they did not
//! ask for.
//!
//! Training runs too: aot_autograd's backward graphs use the kernels in
//! [`backward`]. Not yet: the plan's buffer table (kernels allocate).

pub mod backward;
pub mod elementwise;
pub mod encoder_layer;
pub mod kernels;
pub mod linalg;
pub mod tensor;
mod winograd;

use genie_codegen::{Plan, Role};
use genie_ir::{AttrDict, Attribute, Dim, TensorType, Type};
use kernels::{Ctx, Kernel, SymEnv};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use tensor::{Elem, Storage, Tensor, Value};

/// What the interpreter needs from a device: kernels for ops, and moving
/// tensors between the host and the device's memory. The CPU backend is the
/// only one today; a CUDA backend implements the same three calls.
pub trait Backend: Send + Sync {
    /// The device as plans and messages name it ("cpu").
    fn device(&self) -> &'static str;
    /// The kernel running `op` with `attrs`, or why this backend cannot.
    fn kernel(&self, op: &str, attrs: &AttrDict) -> Result<Kernel, String>;
    /// A host tensor (input or constant) as the device's kernels read it.
    fn to_device(&self, t: Tensor) -> Result<Tensor, String>;
    /// A result as the host reads it.
    fn to_host(&self, t: Tensor) -> Result<Tensor, String>;
}

/// Kernels on the host: tensors stay where they are (no copies).
pub struct Cpu;

impl Backend for Cpu {
    fn device(&self) -> &'static str {
        "cpu"
    }

    fn kernel(&self, op: &str, attrs: &AttrDict) -> Result<Kernel, String> {
        kernels::kernel_with(op, attrs)
    }

    fn to_device(&self, t: Tensor) -> Result<Tensor, String> {
        Ok(t)
    }

    fn to_host(&self, t: Tensor) -> Result<Tensor, String> {
        Ok(t)
    }
}

pub struct Executable {
    backend: Arc<dyn Backend>,
    plan: Plan,
    kernels: Vec<Kernel>,
    /// Per instruction: its attributes and result types.
    attrs: Vec<AttrDict>,
    results: Vec<Vec<Type>>,
    /// Per instruction: values whose last use it is.
    frees: Vec<Vec<u32>>,
    /// Per instruction: which results nothing reads (a kernel may skip them).
    unused: Vec<Vec<bool>>,
    /// Constant data by resource handle, and the type the plan expects.
    constants: HashMap<String, (TensorType, Option<Tensor>)>,
    /// Per instruction: the resource handle it reads, for constants.
    reads_constant: Vec<Option<String>>,
    /// Per-op call counts and time, when profiling is on.
    profile: Option<Mutex<HashMap<String, (u64, Duration)>>>,
}

/// Tensors of a few MiB are allocated and freed on every call (a decode
/// step's KV cache grows by a row: 24 fresh 3 MiB buffers per GPT-2 step).
/// glibc serves such sizes with mmap and returns them to the kernel on free,
/// so every call faults its pages in again — at 1,024 tokens of context that
/// cost more than the attention itself. Raising the mmap threshold to its
/// 32 MiB maximum and the trim threshold to 1 GiB keeps freed buffers in the
/// heap for the next call (what PyTorch's eager allocations get from glibc's
/// own dynamic threshold). Process-wide, once; glibc only;
/// `GENIE_MALLOC_TUNING=0` opts out.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            if std::env::var_os("GENIE_MALLOC_TUNING").is_some_and(|v| v == "0") {
                return;
            }
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

impl Executable {
    /// Loads `plan` on the CPU backend.
    pub fn load(plan: Plan) -> Result<Executable, String> {
        Executable::load_on(plan, Arc::new(Cpu))
    }

    /// Resolves kernels for every instruction on `backend`; fails naming the
    /// first op it cannot run.
    pub fn load_on(plan: Plan, backend: Arc<dyn Backend>) -> Result<Executable, String> {
        keep_freed_buffers();
        let mut kernels = Vec::with_capacity(plan.code.len());
        let mut attrs = Vec::with_capacity(plan.code.len());
        let mut results = Vec::with_capacity(plan.code.len());
        let mut constants = HashMap::new();
        let mut reads_constant = Vec::with_capacity(plan.code.len());
        for (pc, ins) in plan.code.iter().enumerate() {
            let name = plan.strings.get(ins.op as usize).ok_or_else(|| format!("instruction {pc}: bad op index"))?;
            let Some(Attribute::Dict(a)) = plan.attrs.get(ins.attrs as usize) else {
                return Err(format!("instruction {pc}: attributes are not a dictionary"));
            };
            kernels.push(backend.kernel(name, a)?);
            let is_constant = name == "sem.constant" && ins.results.first().is_some_and(|&r| plan.values[r as usize].role == Role::Constant);
            reads_constant.push(match (is_constant, a.get("value")) {
                (false, _) => None,
                (true, Some(Attribute::DenseResource { handle, ty })) => {
                    constants.insert(handle.clone(), ((**ty).clone(), None));
                    Some(handle.clone())
                }
                (true, _) => return Err(format!("instruction {pc}: constant without a resource")),
            });
            attrs.push(a.clone());
            results.push(ins.results.iter().map(|&r| plan.types[plan.values[r as usize].ty as usize].clone()).collect());
        }
        let mut last = vec![None; plan.values.len()];
        for (pc, ins) in plan.code.iter().enumerate() {
            for &o in &ins.operands {
                last[o as usize] = Some(pc);
            }
        }
        let unused = plan.code.iter().map(|ins| ins.results.iter().map(|&r| last[r as usize].is_none() && !plan.outputs.contains(&r)).collect()).collect();
        let mut frees = vec![Vec::new(); plan.code.len()];
        for (v, l) in last.into_iter().enumerate() {
            if let Some(pc) = l {
                if !plan.outputs.contains(&(v as u32)) {
                    frees[pc].push(v as u32);
                }
            }
        }
        Ok(Executable { backend, plan, kernels, attrs, results, frees, unused, constants, reads_constant, profile: None })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Handles of the constants the plan reads, with their types.
    pub fn constant_handles(&self) -> impl Iterator<Item = (&str, &TensorType)> {
        self.constants.iter().map(|(h, (ty, _))| (h.as_str(), ty))
    }

    /// Binds the data of constant `handle`; checks it against the plan's type.
    pub fn bind(&mut self, handle: &str, t: Tensor) -> Result<(), String> {
        let (ty, slot) = self.constants.get_mut(handle).ok_or_else(|| format!("the plan has no constant '{handle}'"))?;
        let want: Vec<usize> = ty.dims.iter().filter_map(|d| d.as_static()).map(|d| d as usize).collect();
        if t.shape != want || t.dtype() != ty.dtype {
            return Err(format!("resource '{handle}' is {:?} {}, the plan expects {}", t.shape, t.dtype(), Type::Tensor(ty.clone())));
        }
        *slot = Some(self.backend.to_device(t)?);
        Ok(())
    }

    /// Turns per-op timing on (or off, dropping what was recorded).
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| Mutex::new(HashMap::new()));
    }

    /// Per op: (calls, total time), slowest first; empty unless profiling.
    pub fn profile(&self) -> Vec<(String, u64, Duration)> {
        let Some(p) = &self.profile else { return vec![] };
        let mut v: Vec<_> = p.lock().map(|m| m.iter().map(|(k, &(n, t))| (k.clone(), n, t)).collect()).unwrap_or_default();
        v.sort_by_key(|e| std::cmp::Reverse(e.2));
        v
    }

    /// Runs the plan on `inputs`.
    pub fn run(&self, inputs: Vec<Value>) -> Result<Vec<Value>, String> {
        let plan = &self.plan;
        if inputs.len() != plan.inputs.len() {
            return Err(format!("plan @{} takes {} inputs, got {}", plan.name, plan.inputs.len(), inputs.len()));
        }
        let mut env = SymEnv::new();
        let mut slots: Vec<Option<Value>> = vec![None; plan.values.len()];
        // Memory the caller owns: outputs must not alias it.
        let mut borrowed: Vec<*const Storage> = vec![];
        for (i, (v, &id)) in inputs.into_iter().zip(&plan.inputs).enumerate() {
            bind(&plan.types[plan.values[id as usize].ty as usize], &v, &mut env).map_err(|e| format!("input #{i}: {e}"))?;
            let v = match v {
                Value::Tensor(t) => {
                    borrowed.push(Arc::as_ptr(t.storage()));
                    Value::Tensor(self.backend.to_device(t).map_err(|e| format!("input #{i}: {e}"))?)
                }
                v => v,
            };
            slots[id as usize] = Some(v);
        }
        for (_, t) in self.constants.values() {
            if let Some(t) = t {
                borrowed.push(Arc::as_ptr(t.storage()));
            }
        }
        for (pc, ins) in plan.code.iter().enumerate() {
            let op = plan.strings[ins.op as usize].as_str();
            let attrs = &self.attrs[pc];
            let outs = if let Some(handle) = &self.reads_constant[pc] {
                let t = self.constants.get(handle).and_then(|(_, t)| t.clone()).ok_or_else(|| format!("no data bound for resource '{handle}'"))?;
                vec![Value::Tensor(t)]
            } else {
                let args: Vec<Value> = ins
                    .operands
                    .iter()
                    .map(|&o| slots[o as usize].clone().ok_or_else(|| format!("instruction {pc} ('{op}'): value %{o} is not available")))
                    .collect::<Result<_, _>>()?;
                let ctx = Ctx { op, attrs, results: &self.results[pc], unused: &self.unused[pc], env: &env };
                let start = self.profile.as_ref().map(|_| Instant::now());
                let outs = (self.kernels[pc])(&ctx, &args).map_err(|e| format!("instruction {pc} ('{op}'): {e}"))?;
                if let (Some(p), Some(t)) = (&self.profile, start) {
                    if let Ok(mut m) = p.lock() {
                        let e = m.entry(op.to_string()).or_default();
                        e.0 += 1;
                        e.1 += t.elapsed();
                    }
                }
                outs
            };
            if outs.len() != ins.results.len() {
                return Err(format!("instruction {pc} ('{op}') produced {} values for {} results", outs.len(), ins.results.len()));
            }
            for (&r, v) in ins.results.iter().zip(outs) {
                slots[r as usize] = Some(v);
            }
            for &f in &self.frees[pc] {
                slots[f as usize] = None;
            }
        }
        plan.outputs
            .iter()
            .map(|&o| match slots[o as usize].clone() {
                Some(Value::Tensor(t)) if borrowed.contains(&Arc::as_ptr(t.storage())) => Ok(Value::Tensor(t.copied())),
                Some(Value::Tensor(t)) => self.backend.to_host(t).map(Value::Tensor),
                Some(v) => Ok(v),
                None => Err(format!("output %{o} was not computed")),
            })
            .collect()
    }
}

/// Checks an input against its plan type and binds its symbolic dims.
fn bind(ty: &Type, v: &Value, env: &mut SymEnv) -> Result<(), String> {
    match (ty, v) {
        (Type::Tensor(tt), Value::Tensor(t)) => {
            if tt.dtype != t.dtype() {
                return Err(format!("expected {ty}, got a {} tensor", t.dtype()));
            }
            if tt.dims.len() != t.shape.len() {
                return Err(format!("expected {ty}, got shape {:?}", t.shape));
            }
            for (d, &n) in tt.dims.iter().zip(&t.shape) {
                match *d {
                    Dim::Static(s) if s as usize != n => return Err(format!("expected {ty}, got shape {:?}", t.shape)),
                    Dim::Sym(s) => {
                        if let Some(&prev) = env.get(&s) {
                            if prev as usize != n {
                                return Err(format!("symbol s{s} is {prev} elsewhere but {n} here"));
                            }
                        }
                        env.insert(s, n as i64);
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        (Type::Scalar(_), Value::Int(_) | Value::Float(_) | Value::Bool(_)) | (Type::None, Value::None) => Ok(()),
        (ty, v) => Err(format!("expected {ty}, got {v:?}")),
    }
}

/// Test helper: parses, verifies and compiles `src` like a captured graph,
/// round-trips the plan through bytecode and loads it.
#[cfg(test)]
pub(crate) fn load_source(src: &str) -> Result<Executable, String> {
    let m = genie_ir::parse_module(src, "t.mlir").map_err(|d| d.to_string())?;
    genie_ir::verify(&m).map_err(|d| d.to_string())?;
    let plan = genie_codegen::compile_module(&m)?.remove(0);
    Executable::load(genie_codegen::decode(&genie_codegen::encode(&plan)).map_err(|e| e.to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, inputs: Vec<Value>) -> Result<Vec<Value>, String> {
        let mut exe = load_source(src)?;
        exe.bind("bias", Tensor::from_vec(vec![2], vec![0.5f32, -100.0])?)?;
        exe.run(inputs)
    }

    fn t(shape: &[usize], v: &[f32]) -> Value {
        Value::Tensor(Tensor::from_vec(shape.to_vec(), v.to_vec()).unwrap())
    }

    const LINEAR_RELU: &str = r#"
func.func @f(%x: tensor<s0x2xf32>, %w: tensor<2x2xf32>) -> tensor<s0x2xf32> {
  %b = sem.constant {value = dense_resource<bias> : tensor<2xf32>} : tensor<2xf32>
  %0 = sem.mm %x, %w : tensor<s0x2xf32>
  %1 = sem.add %0, %b : tensor<s0x2xf32>
  %2 = sem.relu %1 : tensor<s0x2xf32>
  return %2 : tensor<s0x2xf32>
}
"#;

    #[test]
    fn linear_relu_with_symbolic_batch() {
        let out = run(LINEAR_RELU, vec![t(&[3, 2], &[1., 2., 3., 4., -5., 6.]), t(&[2, 2], &[1., 0., 0., 1.])]).unwrap();
        assert_eq!(out, vec![t(&[3, 2], &[1.5, 0., 3.5, 0., 0., 0.])]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let e = run(LINEAR_RELU, vec![t(&[3, 2], &[0.; 6])]).unwrap_err();
        assert!(e.contains("takes 2 inputs, got 1"), "{e}");
        let e = run(LINEAR_RELU, vec![t(&[3, 3], &[0.; 9]), t(&[2, 2], &[0.; 4])]).unwrap_err();
        assert!(e.contains("input #0: expected tensor<s0x2xf32>, got shape [3, 3]"), "{e}");
    }

    /// A backend that cannot run relu and counts tensors moved to it.
    struct NoRelu(std::sync::atomic::AtomicUsize);

    impl Backend for NoRelu {
        fn device(&self) -> &'static str {
            "test"
        }
        fn kernel(&self, op: &str, attrs: &AttrDict) -> Result<Kernel, String> {
            if op == "sem.relu" {
                return Err(format!("{} cannot run {op}", self.device()));
            }
            Cpu.kernel(op, attrs)
        }
        fn to_device(&self, t: Tensor) -> Result<Tensor, String> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(t)
        }
        fn to_host(&self, t: Tensor) -> Result<Tensor, String> {
            Ok(t)
        }
    }

    #[test]
    fn backends_supply_kernels_and_receive_tensors() {
        let plan = |src: &str| {
            let m = genie_ir::parse_module(src, "t.mlir").unwrap();
            genie_codegen::compile_module(&m).unwrap().remove(0)
        };
        let backend = Arc::new(NoRelu(Default::default()));
        let e = Executable::load_on(plan(LINEAR_RELU), backend.clone()).err().unwrap();
        assert_eq!(e, "test cannot run sem.relu");
        let src = LINEAR_RELU.replace("  %2 = sem.relu %1 : tensor<s0x2xf32>\n  return %2", "  return %1");
        let mut exe = Executable::load_on(plan(&src), backend.clone()).unwrap();
        exe.bind("bias", Tensor::from_vec(vec![2], vec![0.5f32, -100.0]).unwrap()).unwrap();
        let out = exe.run(vec![t(&[1, 2], &[1., 2.]), t(&[2, 2], &[1., 0., 0., 1.])]).unwrap();
        assert_eq!(out, vec![t(&[1, 2], &[1.5, -98.])]);
        // The constant and both inputs went to the device.
        assert_eq!(backend.0.load(std::sync::atomic::Ordering::Relaxed), 3);
    }

    #[test]
    fn unsupported_ops_are_refused_at_load() {
        let src = "func.func @f(%x: tensor<1x2x4x4xf32>, %w: tensor<2x3x3x3xf32>) -> tensor<1x3x6x6xf32> {\n  %n = sem.none : none\n  %0 = sem.convolution %x, %w, %n {stride = [1, 1], padding = [0, 0], dilation = [1, 1], transposed = true, output_padding = [0, 0], groups = 1} : tensor<1x3x6x6xf32>\n  return %0 : tensor<1x3x6x6xf32>\n}\n";
        let e = run(src, vec![]).err().unwrap();
        assert_eq!(e, "op 'sem.convolution' with transposed = true is not supported by the CPU backend yet");
    }
}
