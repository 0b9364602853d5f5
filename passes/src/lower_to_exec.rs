//! `genie-lower-to-exec`: places each `sem` function on one device.
//!
//! The single-device form of the `exec` dialect. For `func.func @f` whose
//! arguments 1 and 2 are weights (`genie.weight_args = [1, 2]`) and whose
//! body reads a `dense_resource<h>` constant, the pass produces:
//!
//! ```mlir
//! exec.device {kind = "client", sym_name = "client"}
//! exec.device {kind = "cpu", sym_name = "dev0"}
//! exec.resident {argument = 1, device = @dev0, kind = "weight", sym_name = "f_arg1", type = T1}
//! exec.resident {argument = 2, device = @dev0, kind = "weight", sym_name = "f_arg2", type = T2}
//! exec.resident {device = @dev0, init = dense_resource<h> : T3, kind = "weight", sym_name = "h", type = T3}
//! func.func private @f_kernel(%x: T0, %w1: T1, %w2: T2) -> R {
//!   %c = exec.resident_load {resident = @h} : T3      // was: sem.constant {value = dense_resource<h> : T3}
//!   …the sem body, unchanged…
//! }
//! func.func @f(%x: T0) -> R {
//!   %0 = exec.transfer %x {from = @client, to = @dev0} : T0
//!   %1 = exec.resident_load {resident = @f_arg1} : T1
//!   %2 = exec.resident_load {resident = @f_arg2} : T2
//!   %3 = exec.launch %0, %1, %2 {device = @dev0, kernel = @f_kernel} : R
//!   %4 = exec.transfer %3 {from = @dev0, to = @client} : R
//!   return %4 : R
//! }
//! ```
//!
//! The transfers are explicit even though the device is embedded, so placing
//! work on a remote device later only changes device declarations. Weights
//! become resident state without `init` (the caller supplies them once);
//! `dense_resource` constants become resident state with `init` (the data is
//! known by handle). The kernel keeps every original argument, in order, and
//! reads constants where the graph read them: its body is the `sem` body op for
//! op, so the plan compiled from it is the plan compiled from the `sem`
//! function. The original function becomes the kernel in place (renamed),
//! which keeps the pass linear in the size of the module.
//!
//! Devices the module already declares (the first of kind `client`, the
//! first of kind `cpu`) are reused. Functions that already hold `exec` ops,
//! and kernels that some launch names, are left alone, so the pass can run
//! twice.

use crate::Pass;
use genie_ir::{AttrDict, Attribute, BlockId, Builder, Diagnostic, Diagnostics, Module, OpId, Severity, Type};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

pub struct LowerToExec;

/// Function attribute listing the arguments that are weights.
pub const WEIGHT_ARGS_ATTR: &str = "genie.weight_args";
/// Host function attributes naming the rule behind each argument's and
/// each result's placement (set by `genie-place`).
pub const ARG_RULES_ATTR: &str = "genie.arg_rules";
pub const RESULT_RULES_ATTR: &str = "genie.result_rules";

impl Pass for LowerToExec {
    fn name(&self) -> &'static str {
        "genie-lower-to-exec"
    }

    fn description(&self) -> &'static str {
        "place each sem function on one device: resident weights and constants, explicit transfers, a launched kernel"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        lower(m, &DeviceDecl::embedded_cpu(), &mut |_, _, _| Ok(None))
    }
}

/// The device a module's functions are placed on.
pub struct DeviceDecl {
    pub name: String,
    pub kind: String,
    /// The server it is behind, if not in the client's process.
    pub address: Option<String>,
}

impl DeviceDecl {
    pub fn embedded_cpu() -> DeviceDecl {
        DeviceDecl { name: "dev0".into(), kind: "cpu".into(), address: None }
    }
}

/// What placement decided for one function, with the rule behind each
/// decision: per argument (weights are resident, the rest transferred)
/// and per result (returned, or kept on the device as a handle).
pub struct Decisions {
    pub arg_rules: Vec<String>,
    pub keep: Vec<bool>,
    pub result_rules: Vec<String>,
}

/// Lowers every `sem` function onto `device`. `decide(module, function,
/// weights)` returns each function's decisions (`None`: weights resident,
/// every result returned, no rules recorded); it is called for every
/// function before anything is edited, so a rejected module is unchanged.
pub fn lower(m: &mut Module, device: &DeviceDecl, decide: &mut dyn FnMut(&Module, OpId, &[bool]) -> Result<Option<Decisions>, Diagnostic>) -> Result<(), Diagnostics> {
    let functions = functions_to_lower(m);
    if functions.is_empty() {
        return Ok(());
    }
    let mut diags = Diagnostics::new();
    let mut checked = Vec::with_capacity(functions.len());
    for &f in &functions {
        match check_function(m, f).and_then(|c| decide(m, f, &c.weights).map(|d| (c, d))) {
            Ok(c) => checked.push(c),
            Err(d) => diags.0.push(d),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let mut lowering = Lowering::new(m, functions[0], device);
    for (c, d) in checked {
        lowering.lower_function(m, c, d);
    }
    Ok(())
}

/// The `sem` functions the pass lowers: functions with a body that no launch
/// names as its kernel and that hold no `exec` op yet.
pub fn functions_to_lower(m: &Module) -> Vec<OpId> {
    let mut kernels: HashSet<&str> = HashSet::default();
    let mut candidates = Vec::new();
    for f in m.functions() {
        let Some(entry) = m.entry_block(f) else { continue };
        let mut ops = Vec::new();
        m.walk_block(entry, &mut ops);
        let mut has_exec = false;
        for op in ops {
            let data = m.op(op);
            if data.def.dialect() == "exec" {
                has_exec = true;
                if let Some(Attribute::SymbolRef(k)) = data.attr("kernel") {
                    kernels.insert(k);
                }
            }
        }
        if !has_exec {
            candidates.push(f);
        }
    }
    candidates.retain(|&f| !matches!(m.symbol_name(f), Some(n) if kernels.contains(n)));
    candidates
}

/// A function the pass can lower.
struct CheckedFunction {
    func: OpId,
    entry: BlockId,
    /// Per argument: listed in `genie.weight_args`.
    weights: Vec<bool>,
}

/// Which arguments are weights; or why the function cannot be lowered,
/// located at the function or at the op in the way.
fn check_function(m: &Module, f: OpId) -> Result<CheckedFunction, Diagnostic> {
    let name = m.symbol_name(f).unwrap_or("?");
    let error = |op: OpId, msg: String| {
        let msg = if op == f { format!("@{name}: {msg}") } else { format!("{msg} (in @{name})") };
        m.op_diagnostic(op, Severity::Error, &msg)
    };
    let entry = m.entry_block(f).ok_or_else(|| error(f, "has no body to lower".to_string()))?;
    let args = m.block_args(entry);
    let mut weights = vec![false; args.len()];
    if let Some(attr) = m.op(f).attr(WEIGHT_ARGS_ATTR) {
        let indices = attr
            .as_int_array()
            .ok_or_else(|| error(f, format!("'{WEIGHT_ARGS_ATTR}' must be an array of argument indices, got {}", attr_text(attr))))?;
        for i in indices {
            let slot = usize::try_from(i).ok().and_then(|i| weights.get_mut(i));
            let msg = || format!("'{WEIGHT_ARGS_ATTR}' lists argument {i}, but the function has {} argument(s)", args.len());
            *slot.ok_or_else(|| error(f, msg()))? = true;
        }
    }
    for (i, &a) in args.iter().enumerate() {
        if let ty @ Type::Future(_) = m.value_type(a) {
            return Err(error(f, format!("argument #{i} has type {ty}: a graph input must be a value, not a pending one")));
        }
    }
    // The body becomes a kernel, which is compiled to one flat plan.
    for op in m.block_ops(entry) {
        if !m.op(op).regions.is_empty() {
            return Err(error(op, "has a region; only flat graphs can be lowered to a kernel".to_string()));
        }
    }
    Ok(CheckedFunction { func: f, entry, weights })
}

fn attr_text(a: &Attribute) -> String {
    let mut s = String::new();
    genie_ir::attrs::write_attr(&mut s, a, false);
    s
}

/// Module-wide state: symbol names in use, the two devices, the residents
/// already declared for constants, and where new declarations go.
struct Lowering {
    symbols: HashSet<String>,
    client: String,
    device: String,
    /// `(handle, type)` of a `dense_resource` → its resident, shared by every
    /// function that reads it.
    constants: HashMap<(String, Type), String>,
    /// New devices and residents go before this op (the first op that is not
    /// a declaration), after existing declarations, in creation order.
    decl_anchor: OpId,
}

impl Lowering {
    /// `first_function` is a module-level function the pass lowers.
    fn new(m: &mut Module, first_function: OpId, device: &DeviceDecl) -> Lowering {
        let top = m.block_ops(m.body());
        let symbols: HashSet<String> = top.iter().filter_map(|&op| m.symbol_name(op).map(str::to_string)).collect();
        let is_decl = |op: OpId| matches!(m.op(op).name(), "exec.device" | "exec.resident");
        let decl_anchor = top.iter().copied().find(|&op| !is_decl(op)).unwrap_or(first_function);
        let device_of_kind = |kind: &str| {
            top.iter().copied().find(|&op| m.op(op).name() == "exec.device" && m.op(op).attr("kind").and_then(Attribute::as_str) == Some(kind))
        };
        let (existing_client, existing_device) = (device_of_kind("client"), device_of_kind(&device.kind));
        let mut l = Lowering { symbols, client: String::new(), device: String::new(), constants: HashMap::default(), decl_anchor };
        l.client = match existing_client.and_then(|d| m.symbol_name(d)) {
            Some(name) => name.to_string(),
            None => l.declare_device(m, "client", "client", None),
        };
        l.device = match existing_device.and_then(|d| m.symbol_name(d)) {
            Some(name) => name.to_string(),
            None => l.declare_device(m, &device.name, &device.kind, device.address.as_deref()),
        };
        l
    }

    /// `base`, or `base_1`, `base_2`, … if taken; reserved on return.
    fn unique_symbol(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 0;
        while self.symbols.contains(&name) {
            n += 1;
            name = format!("{base}_{n}");
        }
        self.symbols.insert(name.clone());
        name
    }

    fn declare(&mut self, m: &mut Module, op: &str, attrs: AttrDict) {
        Builder::before(m, self.decl_anchor).op(op, &[], vec![], attrs);
    }

    fn declare_device(&mut self, m: &mut Module, base: &str, kind: &str, address: Option<&str>) -> String {
        let name = self.unique_symbol(base);
        let mut attrs = AttrDict::new();
        attrs.set("sym_name", Attribute::String(name.clone()));
        attrs.set("kind", Attribute::String(kind.to_string()));
        if let Some(a) = address {
            attrs.set("address", Attribute::String(a.to_string()));
        }
        self.declare(m, "exec.device", attrs);
        name
    }

    /// `argument`: the graph argument a weight is bound from.
    fn declare_resident(&mut self, m: &mut Module, base: &str, ty: Type, init: Option<Attribute>, argument: Option<usize>) -> String {
        let name = self.unique_symbol(base);
        let mut attrs = AttrDict::new();
        attrs.set("sym_name", Attribute::String(name.clone()));
        attrs.set("kind", Attribute::String("weight".to_string()));
        attrs.set("type", Attribute::ty(ty));
        attrs.set("device", Attribute::SymbolRef(self.device.clone()));
        if let Some(init) = init {
            attrs.set("init", init);
        }
        if let Some(i) = argument {
            attrs.set("argument", Attribute::int(i as i64));
        }
        self.declare(m, "exec.resident", attrs);
        name
    }

    /// The resident holding the `dense_resource` constant `value` (of `handle`
    /// and type `ty`), declared on first use.
    fn constant_resident(&mut self, m: &mut Module, handle: &str, ty: Type, value: &Attribute) -> String {
        let key = (handle.to_string(), ty);
        if let Some(name) = self.constants.get(&key) {
            return name.clone();
        }
        let name = self.declare_resident(m, handle, key.1.clone(), Some(value.clone()), None);
        self.constants.insert(key, name.clone());
        name
    }

    fn lower_function(&mut self, m: &mut Module, checked: CheckedFunction, decisions: Option<Decisions>) {
        let CheckedFunction { func, entry, weights } = checked;
        let name = m.symbol_name(func).unwrap_or_default().to_string();
        let arg_types: Vec<Type> = m.block_args(entry).iter().map(|&a| m.value_type(a).clone()).collect();
        let result_types = m.op(func).attr("function_type").and_then(Attribute::as_function_type).map(|(_, outs)| outs.to_vec()).unwrap_or_default();
        let weight_residents: Vec<Option<String>> = weights
            .iter()
            .zip(&arg_types)
            .enumerate()
            .map(|(i, (&w, ty))| w.then(|| self.declare_resident(m, &format!("{name}_arg{i}"), ty.clone(), None, Some(i))))
            .collect();
        self.constants_to_resident_loads(m, entry);

        // The host takes the function's name and attributes; the function
        // itself, renamed, becomes the kernel.
        let input_types: Vec<Type> = arg_types.iter().zip(&weights).filter(|(_, &w)| !w).map(|(t, _)| t.clone()).collect();
        let mut host_attrs = m.op(func).attrs.clone();
        host_attrs.remove(WEIGHT_ARGS_ATTR);
        let keep = decisions.as_ref().map(|d| d.keep.clone()).unwrap_or_default();
        if let Some(d) = &decisions {
            let strings = |v: &[String]| Attribute::Array(v.iter().map(|r| Attribute::String(r.clone())).collect());
            host_attrs.set(ARG_RULES_ATTR, strings(&d.arg_rules));
            host_attrs.set(RESULT_RULES_ATTR, strings(&d.result_rules));
        }
        host_attrs.set("function_type", Attribute::ty(Type::Function(input_types.clone(), result_types.clone())));
        let kernel = self.unique_symbol(&format!("{name}_kernel"));
        let kernel_attrs = &mut m.op_mut(func).attrs;
        kernel_attrs.remove(WEIGHT_ARGS_ATTR);
        kernel_attrs.set("sym_name", Attribute::String(kernel.clone()));
        kernel_attrs.set("sym_visibility", Attribute::String("private".to_string()));
        let host_entry = create_function_after(m, func, host_attrs, &input_types);

        // Inputs cross to the device, weights are loaded there, in argument
        // order; the kernel's results cross back.
        let mut b = Builder::at_end(m, host_entry);
        let mut host_args = b.module.block_args(host_entry).to_vec().into_iter();
        let mut launch_args = Vec::with_capacity(arg_types.len());
        for (ty, resident) in arg_types.iter().zip(&weight_residents) {
            let v = match resident {
                Some(r) => b.value("exec.resident_load", &[], ty.clone(), attrs(&[("resident", Attribute::SymbolRef(r.clone()))])),
                None => {
                    let x = host_args.next().expect("one host argument per non-weight argument");
                    b.value("exec.transfer", &[x], ty.clone(), self.transfer_attrs(&self.client, &self.device))
                }
            };
            launch_args.push(v);
        }
        let launch_attrs = attrs(&[("kernel", Attribute::SymbolRef(kernel)), ("device", Attribute::SymbolRef(self.device.clone()))]);
        let launch = b.op("exec.launch", &launch_args, result_types.clone(), launch_attrs);
        let results = b.module.op(launch).results.to_vec();
        // A kept result is returned while still on the device: the client
        // gets a handle to it.
        let outputs: Vec<_> = results
            .iter()
            .zip(&result_types)
            .enumerate()
            .map(|(i, (&r, ty))| if keep.get(i) == Some(&true) { r } else { b.value("exec.transfer", &[r], ty.clone(), self.transfer_attrs(&self.device, &self.client)) })
            .collect();
        b.op("func.return", &outputs, vec![], AttrDict::new());
    }

    /// `sem.constant {value = dense_resource<h> : T}` → `exec.resident_load
    /// {resident = @h}`, rewritten in place: same result value, position,
    /// location and other (semantic) attributes.
    fn constants_to_resident_loads(&mut self, m: &mut Module, entry: BlockId) {
        let resident_load = genie_ir::lookup("exec.resident_load").expect("exec.resident_load is registered");
        for op in m.block_ops(entry) {
            let data = m.op(op);
            if data.name() != "sem.constant" {
                continue;
            }
            let Some(value @ Attribute::DenseResource { handle, ty }) = data.attr("value") else { continue };
            let (handle, ty, value) = (handle.clone(), Type::Tensor((**ty).clone()), value.clone());
            let resident = self.constant_resident(m, &handle, ty, &value);
            let data = m.op_mut(op);
            data.def = resident_load;
            data.attrs.remove("value");
            data.attrs.set("resident", Attribute::SymbolRef(resident));
        }
    }

    fn transfer_attrs(&self, from: &str, to: &str) -> AttrDict {
        attrs(&[("from", Attribute::SymbolRef(from.to_string())), ("to", Attribute::SymbolRef(to.to_string()))])
    }
}

/// An empty `func.func` placed right after `after`, with one argument per
/// input; it answers for `after`'s location in diagnostics. Returns its entry
/// block.
fn create_function_after(m: &mut Module, after: OpId, attrs: AttrDict, inputs: &[Type]) -> BlockId {
    let def = genie_ir::lookup("func.func").expect("func.func is registered");
    let (loc, src) = (m.op(after).loc.clone(), m.op(after).src);
    let f = m.create_op(def, Vec::new(), vec![], attrs, loc);
    m.op_mut(f).src = src;
    match m.next_op(after) {
        Some(next) => m.insert_op_before(next, f),
        None => {
            let body = m.body();
            m.append_op(body, f);
        }
    }
    let entry = m.add_region(f);
    for ty in inputs {
        m.add_block_arg(entry, ty.clone());
    }
    entry
}

fn attrs(entries: &[(&'static str, Attribute)]) -> AttrDict {
    let mut d = AttrDict::new();
    for (k, v) in entries {
        d.set(*k, v.clone());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use genie_ir::{parse_module, print_module, verify};

    const MLP: &str = r#"
func.func @mlp(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> tensor<2x8xf32> attributes {genie.weight_args = [1]} {
  %b = sem.constant {value = dense_resource<bias> : tensor<8xf32>} : tensor<8xf32>
  %0 = sem.mm %x, %w : tensor<2x8xf32>
  %1 = sem.add %0, %b : tensor<2x8xf32>
  return %1 : tensor<2x8xf32>
}
"#;

    #[test]
    fn lowered_module_verifies_and_lowering_again_changes_nothing() {
        let mut m = parse_module(MLP, "t.mlir").unwrap();
        LowerToExec.run(&mut m).unwrap();
        verify(&m).unwrap_or_else(|d| panic!("{d}"));
        let once = print_module(&m, false);
        assert!(once.contains("exec.launch %0, %1 {device = @dev0, kernel = @mlp_kernel}"), "{once}");
        assert!(functions_to_lower(&m).is_empty());
        LowerToExec.run(&mut m).unwrap();
        assert_eq!(print_module(&m, false), once);
    }

    #[test]
    fn rejects_an_op_with_a_region_and_leaves_the_module_unchanged() {
        // The verifier keeps regions out of function bodies, so build one.
        let mut m = parse_module(MLP, "t.mlir").unwrap();
        let f = m.function("mlp").unwrap();
        let entry = m.entry_block(f).unwrap();
        let mm = m.block_ops(entry)[1];
        m.add_region(mm);
        let before = print_module(&m, true);
        let err = LowerToExec.run(&mut m).unwrap_err().to_string();
        assert_eq!(err, "t.mlir:4:8: error: 'sem.mm' op has a region; only flat graphs can be lowered to a kernel (in @mlp)");
        assert_eq!(print_module(&m, true), before);
    }
}
