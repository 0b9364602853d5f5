//! The `exec` dialect: where things run and what crosses the network.
//!
//! Module level: `exec.device` declares a device (the client is a device of
//! kind "client"), `exec.resident` declares state that outlives a call
//! (weights, KV cache). Inside functions: `exec.launch` runs a kernel function
//! on a device, `exec.transfer` moves a value between devices, the `_async`
//! forms return `!exec.future<T>` values that `exec.await` resolves, and
//! `exec.recompute` re-runs a kernel instead of transferring its result.
//! Kernels are outlined functions referenced by symbol (as in IREE's
//! dispatches), which keeps every body a plain `func.func`.

use super::AttrKind::*;
use super::*;

const DEVICE_KINDS: &[&str] = &["client", "cpu", "cuda"];
const RESIDENT_KINDS: &[&str] = &["weight", "kv_cache", "state", "buffer"];
const LAUNCH_ATTRS: &[AttrDef] = &[req("kernel", SymbolRef), req("device", SymbolRef)];
const TRANSFER_ATTRS: &[AttrDef] = &[req("from", SymbolRef), req("to", SymbolRef)];

const fn exec_op(
    name: &'static str,
    summary: &'static str,
    operands: &'static [Slot],
    results: &'static [Slot],
    attrs: &'static [AttrDef],
    traits: Traits,
) -> OpDef {
    OpDef { name, summary, operands, results, attrs, regions: 0, traits, infer: None, code: None }
}

const FUTURE: Slot = Slot { name: "future", kind: ValueKind::Future, variadic: false };

pub static OPS: &[OpDef] = &[
    exec_op(
        "exec.device",
        "declares a device a plan can place work on",
        &[],
        &[],
        &[req("sym_name", String), req("kind", Enum(DEVICE_KINDS)), opt("index", Int), opt("address", String)],
        Traits::SYMBOL,
    ),
    exec_op(
        "exec.resident",
        "declares state kept on a device across calls (weights, KV cache)",
        &[],
        &[],
        &[req("sym_name", String), req("kind", Enum(RESIDENT_KINDS)), req("type", Type), req("device", SymbolRef), opt("init", Resource), opt("argument", Int)],
        Traits::SYMBOL,
    ),
    exec_op("exec.resident_load", "reads resident state", &[], &[any("result")], &[req("resident", SymbolRef)], Traits::READ_ONLY),
    exec_op("exec.resident_store", "replaces resident state (e.g. the grown KV cache)", &[any("value")], &[], &[req("resident", SymbolRef)], Traits::NONE),
    exec_op("exec.launch", "runs a kernel function on a device", &[variadic(any("args"))], &[variadic(any("results"))], LAUNCH_ATTRS, Traits::READ_ONLY),
    exec_op(
        "exec.launch_async",
        "starts a kernel; its results arrive as futures",
        &[variadic(any("args"))],
        &[variadic(FUTURE)],
        LAUNCH_ATTRS,
        Traits::READ_ONLY,
    ),
    exec_op("exec.transfer", "copies a value from one device to another", &[any("value")], &[any("result")], TRANSFER_ATTRS, Traits::READ_ONLY),
    exec_op("exec.transfer_async", "starts a copy; the value arrives as a future", &[any("value")], &[FUTURE], TRANSFER_ATTRS, Traits::READ_ONLY),
    exec_op("exec.await", "waits for a future", &[FUTURE], &[any("result")], &[], Traits::READ_ONLY),
    exec_op(
        "exec.recompute",
        "recomputes values on a device instead of transferring them",
        &[variadic(any("args"))],
        &[variadic(any("results"))],
        &[req("kernel", SymbolRef), req("device", SymbolRef), opt("reason", String)],
        Traits::READ_ONLY,
    ),
];
