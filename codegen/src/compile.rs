//! An `exec` host function (or a `sem` function) → a [`Plan`], with buffer
//! planning.
//!
//! The input is the single-device `exec` form `genie-lower-to-exec` produces:
//! a host function that transfers its inputs to the device, loads resident
//! weights, launches one kernel and transfers the kernel's results back. The
//! plan is the kernel body; roles come from the exec structure: a kernel
//! argument fed by an `exec.transfer` is an input, one fed by an
//! `exec.resident_load` of a resident without `init` is a weight; a resident
//! with `init` read inside the kernel is a constant (compiled as the
//! `sem.constant {value = dense_resource<…>}` it was lowered from); the
//! kernel results the host transfers back are outputs; everything else is a
//! temporary. Temporaries of static size share buffers when their lifetimes
//! do not overlap.
//!
//! A module still in the `sem` form is lowered first, on a copy, so the plan
//! of a `sem` function is the plan of its `exec` form. [`compile_function`] on
//! a `sem` function compiles it directly (arguments listed in
//! `genie.weight_args` are weights, `dense_resource` constants are
//! constants): the reference the `exec` path is tested against.

use crate::plan::{Buffer, Instr, Plan, Role, ValueInfo};
use genie_ir::{attrs::write_attr_dict, AttrDict, Attribute, BlockId, Module, OpId, Severity, Type, ValueDef, ValueId};
use genie_passes::lower_to_exec::{functions_to_lower, LowerToExec, WEIGHT_ARGS_ATTR};
use genie_passes::Pass;
use std::collections::{HashMap, HashSet};

/// Buffers are aligned so kernels can use wide loads.
pub const ALIGN: u64 = 64;

/// Compiles function `func` of `m`: an `exec` host function through the
/// kernel it launches, or a `sem` function directly.
pub fn compile_function(m: &Module, func: OpId) -> Result<Plan, String> {
    if is_host(m, func) {
        compile_host(m, func, &residents(m))
    } else {
        compile_sem_function(m, func)
    }
}

/// Compiles every host function of a module (kernels are compiled through
/// the host that launches them). `sem` functions are lowered to `exec` first.
pub fn compile_module(m: &Module) -> Result<Vec<Plan>, String> {
    if functions_to_lower(m).is_empty() {
        return compile_exec_module(m);
    }
    let mut lowered = m.clone();
    LowerToExec.run(&mut lowered).map_err(|d| d.to_string())?;
    compile_exec_module(&lowered)
}

fn compile_exec_module(m: &Module) -> Result<Vec<Plan>, String> {
    let residents = residents(m);
    let kernels = launched_kernels(m);
    m.functions()
        .into_iter()
        .filter(|&f| !m.symbol_name(f).is_some_and(|n| kernels.contains(n)))
        .map(|f| compile_host(m, f, &residents))
        .collect()
}

/// `exec.resident` declarations by name.
fn residents(m: &Module) -> HashMap<&str, OpId> {
    m.block_ops(m.body()).into_iter().filter(|&op| m.op(op).name() == "exec.resident").filter_map(|op| Some((m.symbol_name(op)?, op))).collect()
}

/// Names of the functions some launch runs as its kernel.
fn launched_kernels(m: &Module) -> HashSet<&str> {
    m.walk()
        .into_iter()
        .filter(|&op| matches!(m.op(op).name(), "exec.launch" | "exec.launch_async" | "exec.recompute"))
        .filter_map(|op| match m.op(op).attr("kernel") {
            Some(Attribute::SymbolRef(k)) => Some(k.as_str()),
            _ => None,
        })
        .collect()
}

/// A function whose body holds `exec` ops.
fn is_host(m: &Module, f: OpId) -> bool {
    m.entry_block(f).is_some_and(|entry| m.block_ops(entry).into_iter().any(|op| m.op(op).def.dialect() == "exec"))
}

/// `file:line:col: error: 'op' op <msg> [at <module path>]`.
fn op_error(m: &Module, op: OpId, msg: &str) -> String {
    m.op_diagnostic(op, Severity::Error, msg).to_string()
}

fn function_name(m: &Module, f: OpId) -> String {
    m.symbol_name(f).unwrap_or("forward").to_string()
}

/// Roles from `genie.weight_args`; `dense_resource` constants are constants.
fn compile_sem_function(m: &Module, func: OpId) -> Result<Plan, String> {
    let name = function_name(m, func);
    let entry = m.entry_block(func).ok_or_else(|| op_error(m, func, &format!("function @{name} has no body")))?;
    let weights: Vec<i64> = m.op(func).attr(WEIGHT_ARGS_ATTR).and_then(Attribute::as_int_array).unwrap_or_default();
    let arg_roles: Vec<Role> = (0..m.block_args(entry).len()).map(|i| if weights.contains(&(i as i64)) { Role::Weight } else { Role::Input }).collect();
    let ret = returned(m, entry).ok_or_else(|| op_error(m, func, &format!("function @{name} does not end with 'func.return'")))?;
    let outputs = m.op(ret).operands.to_vec();
    compile_body(m, name, entry, &arg_roles, &outputs, &HashMap::new())
}

/// The `func.return` ending `entry`.
fn returned(m: &Module, entry: BlockId) -> Option<OpId> {
    m.last_op(entry).filter(|&op| m.op(op).name() == "func.return")
}

/// The single-device host form: transfers in, resident loads, one launch,
/// transfers out.
fn compile_host(m: &Module, host: OpId, residents: &HashMap<&str, OpId>) -> Result<Plan, String> {
    let name = function_name(m, host);
    let entry = m.entry_block(host).ok_or_else(|| op_error(m, host, &format!("function @{name} has no body")))?;
    let ops = m.block_ops(entry);
    for &op in &ops {
        if !matches!(m.op(op).name(), "exec.transfer" | "exec.resident_load" | "exec.launch" | "func.return") {
            let msg = format!("cannot be compiled to a plan: host function @{name} may hold only exec.transfer, exec.resident_load, one exec.launch and func.return");
            return Err(op_error(m, op, &msg));
        }
    }
    let launches: Vec<OpId> = ops.iter().copied().filter(|&op| m.op(op).name() == "exec.launch").collect();
    let launch = match launches.as_slice() {
        [one] => *one,
        [] => return Err(op_error(m, host, &format!("function @{name} launches no kernel, so there is nothing to compile to a plan"))),
        [_, second, ..] => {
            let msg = format!("is the second launch in @{name}; a plan holds one kernel (multi-kernel plans are not supported yet)");
            return Err(op_error(m, *second, &msg));
        }
    };
    let device = m.op(launch).attr("device");
    let kernel_name = match m.op(launch).attr("kernel") {
        Some(Attribute::SymbolRef(k)) => k.clone(),
        _ => return Err(op_error(m, launch, "needs a 'kernel' symbol reference")),
    };
    let kernel = m.function(&kernel_name).ok_or_else(|| op_error(m, launch, &format!("launches @{kernel_name}, which is not a function")))?;
    let kernel_entry = m.entry_block(kernel).ok_or_else(|| op_error(m, kernel, &format!("kernel @{kernel_name} has no body")))?;

    let launch_args = &m.op(launch).operands;
    if launch_args.len() != m.block_args(kernel_entry).len() {
        let msg = format!("passes {} argument(s) to @{kernel_name}, which takes {}", launch_args.len(), m.block_args(kernel_entry).len());
        return Err(op_error(m, launch, &msg));
    }
    // Kernel argument roles, from what feeds each launch argument.
    let mut arg_roles = Vec::new();
    for (i, &v) in launch_args.iter().enumerate() {
        let def = m.defining_op(v).map(|d| (d, m.op(d)));
        let role = match def {
            Some((t, data)) if data.name() == "exec.transfer" && is_arg_of(m, data.operands[0], entry) => {
                if data.attr("to") != device {
                    return Err(op_error(m, t, &format!("moves argument #{i} of the launch of @{kernel_name} to another device than the kernel's")));
                }
                Role::Input
            }
            Some((load, data)) if data.name() == "exec.resident_load" => {
                let resident = resident_of(m, load, residents)?;
                if m.op(resident).attr("init").is_some() {
                    let msg = format!("passes constant resident state to @{kernel_name} as argument #{i}; a plan reads constants inside the kernel");
                    return Err(op_error(m, load, &msg));
                }
                Role::Weight
            }
            _ => {
                let msg = format!("argument #{i} must be an exec.transfer of a host argument or an exec.resident_load");
                return Err(op_error(m, launch, &msg));
            }
        };
        arg_roles.push(role);
    }

    // Outputs: the kernel results the host transfers back and returns.
    let ret = returned(m, entry).ok_or_else(|| op_error(m, host, &format!("function @{name} does not end with 'func.return'")))?;
    let kernel_ret = returned(m, kernel_entry).ok_or_else(|| op_error(m, kernel, &format!("kernel @{kernel_name} does not end with 'func.return'")))?;
    let mut outputs = Vec::new();
    for (j, &v) in m.op(ret).operands.iter().enumerate() {
        let transfer = m.defining_op(v).filter(|&t| m.op(t).name() == "exec.transfer");
        let result_index = transfer.and_then(|t| match m.value_def(m.op(t).operands[0]) {
            ValueDef::Result { op, index } if op == launch => Some(index as usize),
            _ => None,
        });
        let (Some(t), Some(k)) = (transfer, result_index) else {
            return Err(op_error(m, ret, &format!("result #{j} must be an exec.transfer of a result of the launch of @{kernel_name}")));
        };
        if m.op(t).attr("from") != device {
            return Err(op_error(m, t, &format!("moves result #{k} of @{kernel_name} from another device than the kernel's")));
        }
        let out = m.op(kernel_ret).operands.get(k).copied().ok_or_else(|| op_error(m, kernel_ret, &format!("has no result #{k}")))?;
        outputs.push(out);
    }
    compile_body(m, name, kernel_entry, &arg_roles, &outputs, residents)
}

fn is_arg_of(m: &Module, v: ValueId, block: BlockId) -> bool {
    matches!(m.value_def(v), ValueDef::BlockArg { block: b, .. } if b == block)
}

/// The `exec.resident` an `exec.resident_load` reads.
fn resident_of(m: &Module, load: OpId, residents: &HashMap<&str, OpId>) -> Result<OpId, String> {
    match m.op(load).attr("resident") {
        Some(Attribute::SymbolRef(r)) => residents.get(r.as_str()).copied().ok_or_else(|| op_error(m, load, &format!("reads @{r}, which is not an exec.resident"))),
        _ => Err(op_error(m, load, "needs a 'resident' symbol reference")),
    }
}

/// The plan of a flat body: `arg_roles` per block argument, `outputs` the
/// values returned (in order). `residents` resolves the constants an `exec`
/// kernel reads.
fn compile_body(m: &Module, name: String, entry: BlockId, arg_roles: &[Role], outputs: &[ValueId], residents: &HashMap<&str, OpId>) -> Result<Plan, String> {
    let mut c = Compiler { m, plan: Plan { name, ..Plan::default() }, ids: HashMap::new(), strings: HashMap::new(), types: HashMap::new(), attrs: HashMap::new() };
    for (&a, &role) in m.block_args(entry).iter().zip(arg_roles) {
        let id = c.value(a, role)?;
        c.plan.inputs.push(id);
    }
    for op in m.block_ops(entry) {
        let data = m.op(op);
        if data.name() == "func.return" {
            continue;
        }
        if !data.regions.is_empty() {
            return Err(op_error(m, op, "has regions; plans hold flat graphs"));
        }
        let operands = data.operands.iter().map(|v| c.ids.get(v).copied().ok_or_else(|| op_error(m, op, "uses an undefined value"))).collect::<Result<Vec<_>, _>>()?;
        let (op_name, attrs, role) = match data.name() {
            "exec.resident_load" => {
                let (attrs, role) = constant_from_resident(m, op, residents)?;
                ("sem.constant", attrs, role)
            }
            n if data.def.dialect() == "exec" => return Err(op_error(m, op, &format!("cannot run inside a kernel: '{n}' is placement, and plans hold sem ops"))),
            "sem.constant" if matches!(data.attr("value"), Some(Attribute::DenseResource { .. })) => ("sem.constant", data.attrs.clone(), Role::Constant),
            n => (n, data.attrs.clone(), Role::Temporary),
        };
        let results = data.results.iter().map(|&r| c.value(r, role)).collect::<Result<Vec<_>, _>>()?;
        let op = c.string(op_name);
        let attrs = c.attr_dict(&attrs);
        c.plan.code.push(Instr { op, operands, results, attrs });
    }
    for v in outputs {
        let id = c.ids.get(v).copied().ok_or("return of an undefined value")?;
        let info = &mut c.plan.values[id as usize];
        if info.role == Role::Temporary {
            info.role = Role::Output;
        }
        c.plan.outputs.push(id);
    }
    let mut plan = c.plan;
    plan_buffers(&mut plan);
    Ok(plan)
}

/// A kernel's read of constant resident state is the `sem.constant` it was
/// lowered from: `value` is the resident's `init`, other attributes stay.
fn constant_from_resident(m: &Module, load: OpId, residents: &HashMap<&str, OpId>) -> Result<(AttrDict, Role), String> {
    let resident = resident_of(m, load, residents)?;
    let Some(init) = m.op(resident).attr("init") else {
        let msg = "reads resident state without 'init' inside a kernel; a plan takes weights as kernel arguments";
        return Err(op_error(m, load, msg));
    };
    let mut attrs = m.op(load).attrs.clone();
    attrs.remove("resident");
    attrs.set("value", init.clone());
    Ok((attrs, Role::Constant))
}

struct Compiler<'m> {
    m: &'m Module,
    plan: Plan,
    ids: HashMap<ValueId, u32>,
    strings: HashMap<String, u32>,
    types: HashMap<Type, u32>,
    /// Printed dictionary → entry, so identical dictionaries are stored once.
    attrs: HashMap<String, u32>,
}

impl Compiler<'_> {
    fn value(&mut self, v: ValueId, role: Role) -> Result<u32, String> {
        let ty = self.m.value_type(v).clone();
        if !matches!(ty, Type::Tensor(_) | Type::Scalar(_) | Type::None) {
            return Err(format!("a value of type {ty} cannot be part of a plan"));
        }
        let next = self.plan.types.len() as u32;
        let t = *self.types.entry(ty.clone()).or_insert(next);
        if t == next {
            self.plan.types.push(ty);
        }
        let id = self.plan.values.len() as u32;
        self.plan.values.push(ValueInfo { ty: t, role, buffer: None });
        self.ids.insert(v, id);
        Ok(id)
    }

    fn string(&mut self, s: &str) -> u32 {
        let next = self.plan.strings.len() as u32;
        let id = *self.strings.entry(s.to_string()).or_insert(next);
        if id == next {
            self.plan.strings.push(s.to_string());
        }
        id
    }

    fn attr_dict(&mut self, d: &genie_ir::AttrDict) -> u32 {
        let mut key = String::new();
        write_attr_dict(&mut key, d, true);
        let next = self.plan.attrs.len() as u32;
        let id = *self.attrs.entry(key).or_insert(next);
        if id == next {
            self.plan.attrs.push(Attribute::Dict(d.clone()));
        }
        id
    }
}

/// Bytes a value needs, when its size is known at compile time.
pub fn static_bytes(t: &Type) -> Option<u64> {
    match t {
        Type::Tensor(tt) => {
            let n = tt.num_elements()?;
            u64::try_from(n).ok()?.checked_mul(tt.dtype.byte_size() as u64)
        }
        _ => None,
    }
}

fn align(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

/// Assigns buffers to static-size temporaries, reusing the buffer of a value
/// once its last use has run (best fit among free buffers, growing the
/// largest free one when none fits), and records arena size and peak bytes.
pub fn plan_buffers(plan: &mut Plan) {
    let n = plan.values.len();
    let mut last_use = vec![None::<usize>; n];
    for (pc, ins) in plan.code.iter().enumerate() {
        for &o in &ins.operands {
            last_use[o as usize] = Some(pc);
        }
    }
    let size_of = |plan: &Plan, v: u32| -> Option<u64> {
        let info = &plan.values[v as usize];
        if info.role != Role::Temporary {
            return None;
        }
        static_bytes(&plan.types[info.ty as usize]).map(align)
    };
    let mut buffer_sizes: Vec<u64> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let (mut live, mut peak, mut unshared) = (0u64, 0u64, 0u64);
    let mut assignment: Vec<Option<usize>> = vec![None; n];
    for pc in 0..plan.code.len() {
        for r in plan.code[pc].results.clone() {
            let Some(size) = size_of(plan, r) else { continue };
            unshared += size;
            live += size;
            let best = free.iter().enumerate().filter(|(_, &b)| buffer_sizes[b] >= size).min_by_key(|(_, &b)| buffer_sizes[b]).map(|(i, _)| i);
            let grow = || free.iter().enumerate().max_by_key(|(_, &b)| buffer_sizes[b]).map(|(i, _)| i);
            let b = match best.or_else(grow) {
                Some(i) => {
                    let b = free.swap_remove(i);
                    buffer_sizes[b] = buffer_sizes[b].max(size);
                    b
                }
                None => {
                    buffer_sizes.push(size);
                    buffer_sizes.len() - 1
                }
            };
            assignment[r as usize] = Some(b);
            // A result nobody reads is dead at once.
            if last_use[r as usize].is_none() {
                free.push(b);
                live -= size;
            }
        }
        peak = peak.max(live);
        let mut seen = Vec::new();
        for &o in &plan.code[pc].operands {
            if last_use[o as usize] == Some(pc) && !seen.contains(&o) {
                seen.push(o);
                if let (Some(b), Some(size)) = (assignment[o as usize], size_of(plan, o)) {
                    free.push(b);
                    live -= size;
                }
            }
        }
    }
    let mut offset = 0;
    plan.buffers = buffer_sizes
        .iter()
        .map(|&size| {
            let b = Buffer { offset, size };
            offset += size;
            b
        })
        .collect();
    for (v, b) in assignment.into_iter().enumerate() {
        plan.values[v].buffer = b.map(|b| b as u32);
    }
    plan.arena_size = offset;
    plan.peak_temp_bytes = peak;
    plan.unshared_temp_bytes = unshared;
}
