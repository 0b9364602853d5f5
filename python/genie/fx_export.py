"""FX graph → Genie's graph exchange format (JSON), read by the Rust importer.

The graphs come from TorchDynamo + aot_autograd with core ATen decompositions:
functional ATen ops whose nodes carry ``meta["val"]`` (fake tensors or
SymInts), ``nn_module_stack``, ``source_fn_stack`` and ``stack_trace``. This
module only reads the graph; the mapping onto ``sem`` ops lives in the Rust
crate ``frontend-fx``, so Python and Rust agree on one format:

    {"version": 1, "name": "forward", "symbols": {"s0": [2, 1024]},
     "inputs":  [{"name": "arg0_1", "type": TYPE, "weight": true}],
     "nodes":   [{"name": "add", "op": "aten::add.Tensor",
                  "args": [{"name": "self", "type": "Tensor",
                            "default": false, "value": VALUE}, …],
                  "results": [TYPE, …], "loc": {…}}],
     "outputs": [VALUE, …]}

TYPE is ``{"tensor": {"shape": [1, "s0", 768], "dtype": "f32"}}``,
``{"scalar": "i64"}`` or ``{"none": true}``; a dim is an int, a symbolic size
in Genie's syntax (``"s0 * 12"``) or ``"?"``. VALUE is ``{"ref": name,
"index": i}``, ``{"int": n}``, ``{"float": x}`` (``"inf"``/``"-inf"``/``"nan"``
as strings), ``{"bool": b}``, ``{"str": s}``, ``{"dtype": "f32"}``,
``{"sym": "s0 + 1"}``, ``{"list": [VALUE, …]}``, ``null``, or
``{"ignored": "…"}`` for placement arguments (device, layout, …) that the
runtime decides. ``"weight": true`` marks an input that holds a parameter or
buffer (the importer lists those in the function's ``genie.weight_args``).
"""

from __future__ import annotations

import functools
import json
import math
import operator
import os
import re
from typing import Any, Dict, List, Optional

import torch
import torch.fx

FORMAT_VERSION = 1

DTYPES = {
    torch.float64: "f64",
    torch.float32: "f32",
    torch.float16: "f16",
    torch.bfloat16: "bf16",
    torch.int64: "i64",
    torch.int32: "i32",
    torch.int16: "i16",
    torch.int8: "i8",
    torch.uint8: "ui8",
    torch.bool: "i1",
}

# Python-level callables FX graphs apply to SymInts, by Genie op-name.
PY_OPS = {
    operator.add: "operator::add",
    operator.sub: "operator::sub",
    operator.mul: "operator::mul",
    operator.truediv: "operator::truediv",
    operator.floordiv: "operator::floordiv",
    operator.mod: "operator::mod",
    operator.pow: "operator::pow",
    operator.neg: "operator::neg",
    operator.eq: "operator::eq",
    operator.ne: "operator::ne",
    operator.lt: "operator::lt",
    operator.le: "operator::le",
    operator.gt: "operator::gt",
    operator.ge: "operator::ge",
    torch.sym_max: "operator::max",
    torch.sym_min: "operator::min",
    torch.sym_float: "operator::float",
    math.floor: "operator::floor",
    math.ceil: "operator::ceil",
}

_STACK_LINE = re.compile(r'File "([^"]+)", line (\d+)')


class ExportError(Exception):
    """A graph element the exchange format cannot express."""


def _dtype(d: torch.dtype) -> str:
    try:
        return DTYPES[d]
    except KeyError:
        raise ExportError(f"unsupported dtype {d}") from None


def _sym(expr) -> str:
    """A sympy expression over shape symbols in Genie's size syntax, or '?'."""
    import sympy

    def go(e) -> str:
        if isinstance(e, sympy.Integer):
            return str(int(e))
        if isinstance(e, sympy.Symbol):
            if not re.fullmatch(r"s\d+", e.name):
                raise ExportError(f"symbol {e.name}")
            return e.name
        if isinstance(e, sympy.Add):
            return "(" + " + ".join(go(a) for a in e.args) + ")"
        if isinstance(e, sympy.Mul):
            return "(" + " * ".join(go(a) for a in e.args) + ")"
        name = type(e).__name__
        if name in ("FloorDiv", "CleanDiv", "IntTrueDiv") and len(e.args) == 2:
            return f"({go(e.args[0])} floordiv {go(e.args[1])})"
        if name in ("Mod", "PythonMod") and len(e.args) == 2:
            return f"({go(e.args[0])} mod {go(e.args[1])})"
        if name == "CeilDiv" and len(e.args) == 2:
            return f"({go(e.args[0])} ceildiv {go(e.args[1])})"
        raise ExportError(f"expression {e}")

    try:
        return go(expr)
    except ExportError:
        return "?"


def _size(d) -> Any:
    if isinstance(d, int):
        return d
    if isinstance(d, torch.SymInt):
        node = d.node
        if node.is_constant() if hasattr(node, "is_constant") else False:
            return int(d)
        return _sym(node.expr)
    return "?"


def _type(val) -> Dict[str, Any]:
    if isinstance(val, torch.Tensor):
        return {"tensor": {"shape": [_size(d) for d in val.shape], "dtype": _dtype(val.dtype)}}
    if isinstance(val, (bool, torch.SymBool)):
        return {"scalar": "i1"}
    if isinstance(val, (int, torch.SymInt)):
        return {"scalar": "i64"}
    if isinstance(val, (float, torch.SymFloat)):
        return {"scalar": "f64"}
    if val is None:
        return {"none": True}
    raise ExportError(f"unsupported value type {type(val).__name__}")


def _results(node: torch.fx.Node) -> List[Dict[str, Any]]:
    val = node.meta.get("val")
    if isinstance(val, (tuple, list)):
        return [_type(v) for v in val]
    return [_type(val)]


def _float(x: float) -> Dict[str, Any]:
    if math.isfinite(x):
        return {"float": x}
    return {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


class _Exporter:
    def __init__(self, gm: torch.fx.GraphModule):
        self.gm = gm
        # getitem nodes resolve to (source node, index).
        self.projections: Dict[str, tuple] = {}

    def ref(self, node: torch.fx.Node) -> Dict[str, Any]:
        if node.name in self.projections:
            src, idx = self.projections[node.name]
            return {"ref": src, "index": idx}
        return {"ref": node.name, "index": 0}

    def value(self, v) -> Any:
        if isinstance(v, torch.fx.Node):
            r = self.ref(v)
            # A SymInt node also carries its expression, for arguments the
            # importer turns into attributes (a view's size, a slice's end).
            val = v.meta.get("val")
            if isinstance(val, torch.SymInt) and v.name not in self.projections:
                r["sym"] = _size(val)
            return r
        if v is None:
            return None
        if isinstance(v, bool):
            return {"bool": v}
        if isinstance(v, int):
            return {"int": v}
        if isinstance(v, float):
            return _float(v)
        if isinstance(v, str):
            return {"str": v}
        if isinstance(v, torch.dtype):
            return {"dtype": _dtype(v)}
        if isinstance(v, (torch.device, torch.layout, torch.memory_format)):
            return {"ignored": str(v)}
        if isinstance(v, (list, tuple)):
            return {"list": [self.value(x) for x in v]}
        if isinstance(v, torch.SymInt):
            return {"sym": _size(v)}
        raise ExportError(f"unsupported argument {v!r} ({type(v).__name__})")

    def loc(self, node: torch.fx.Node) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        stack = node.meta.get("nn_module_stack")
        if stack:
            path, cls = list(stack.values())[-1]
            out["module"] = _module_path(path)
            out["class"] = getattr(cls, "__name__", None) or str(cls).rsplit(".", 1)[-1].strip("'>")
        src = node.meta.get("source_fn_stack")
        if src:
            out["source_fn"] = str(src[-1][0])
        trace = node.meta.get("stack_trace")
        if trace:
            where = _innermost_frame(trace)
            if where:
                out["file"], out["line"] = where
        return out

    def args(self, node: torch.fx.Node) -> List[Dict[str, Any]]:
        target = node.target
        if isinstance(target, torch._ops.OpOverload):
            schema_name, params = _schema_params(target)
            given = dict(zip((p[0] for p in params if not p[2]), node.args))
            given.update(node.kwargs)
            out = []
            for name, type_name, _, has_default, default in params:
                is_default = name not in given
                if not is_default:
                    v = given[name]
                elif has_default:
                    v = default
                else:
                    raise ExportError(f"{schema_name}: missing argument '{name}'")
                out.append({"name": name, "type": type_name, "default": is_default, "value": self.value(v)})
            return out
        return [{"name": f"arg{i}", "type": "Scalar", "default": False, "value": self.value(v)} for i, v in enumerate(node.args)]

    def export(self, name: str, weights: frozenset = frozenset()) -> Dict[str, Any]:
        inputs, nodes, outputs = [], [], []
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                entry = {"name": node.name, "type": _type(node.meta.get("val"))}
                if len(inputs) in weights:
                    entry["weight"] = True
                inputs.append(entry)
            elif node.op == "call_function" and node.target is operator.getitem:
                src, idx = node.args
                self.projections[node.name] = (src.name, idx)
            elif node.op == "call_function":
                nodes.append(
                    {
                        "name": node.name,
                        "op": op_name(node.target),
                        "args": self.args(node),
                        "results": _results(node),
                        "loc": self.loc(node),
                    }
                )
            elif node.op == "get_attr":
                # A lifted constant: its data stays outside the IR, named by
                # a dense_resource handle.
                tensor = _fetch_attr(self.gm, node.target)
                nodes.append(
                    {
                        "name": node.name,
                        "op": "genie::constant",
                        "resource": node.target.replace(".", "_"),
                        "args": [],
                        "results": [_type(tensor)],
                        "loc": self.loc(node),
                    }
                )
            elif node.op == "output":
                outs = node.args[0]
                outs = outs if isinstance(outs, (list, tuple)) else [outs]
                outputs = [self.value(o) for o in outs]
            else:
                raise ExportError(f"unsupported FX node kind '{node.op}' ({node.name})")
        return {
            "version": FORMAT_VERSION,
            "name": name,
            "symbols": _symbol_ranges(self.gm),
            "inputs": inputs,
            "nodes": nodes,
            "outputs": outputs,
        }


def _fetch_attr(gm: torch.fx.GraphModule, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, torch.Tensor):
        raise ExportError(f"get_attr '{target}' is a {type(obj).__name__}, not a tensor")
    return obj


@functools.lru_cache(maxsize=None)
def _schema_params(target) -> tuple:
    """An op overload's schema as (name, [(arg, type, kwarg_only, has_default,
    default)]); cached, since reading schemas crosses into C++ per field."""
    schema = target._schema
    params = [(a.name, str(a.type), a.kwarg_only, a.has_default_value(), a.default_value if a.has_default_value() else None) for a in schema.arguments]
    return schema.name, params


@functools.lru_cache(maxsize=4096)
def _innermost_frame(trace: str):
    """(file name, line) of the last frame of a stack trace, or None."""
    frames = _STACK_LINE.findall(trace)
    if not frames:
        return None
    file, line = frames[-1]
    return os.path.basename(file), int(line)


@functools.lru_cache(maxsize=4096)
def _module_path(path: str) -> str:
    """Dynamo's `L['self'].transformer.h[0].attn` → `transformer.h.0.attn`."""
    path = re.sub(r"^L\['[^']+'\]\.?", "", path)
    path = re.sub(r"^L__self___?", "", path)
    path = re.sub(r"\[(\d+)\]", r".\1", path)
    path = re.sub(r"\._modules\['([^']+)'\]", r".\1", path)
    return path.strip(".")


def _symbol_ranges(gm: torch.fx.GraphModule) -> Dict[str, List[int]]:
    shape_env = None
    for node in gm.graph.nodes:
        val = node.meta.get("val")
        fake_mode = getattr(val, "fake_mode", None)
        if fake_mode is not None and fake_mode.shape_env is not None:
            shape_env = fake_mode.shape_env
            break
        if isinstance(val, torch.SymInt):
            shape_env = val.node.shape_env
            break
    if shape_env is None:
        return {}
    out = {}
    i64_max = 2**63 - 1
    for sym, vr in shape_env.var_to_range.items():
        if not re.fullmatch(r"s\d+", str(sym)):
            continue
        out[str(sym)] = [max(_bound(vr.lower, 0), 0), min(_bound(vr.upper, i64_max), i64_max)]
    return out


def _bound(b, default: int) -> int:
    """A range bound as an int; infinite bounds (sympy's or PyTorch's own
    int_oo) become `default`."""
    try:
        return int(b)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return default


def op_name(target) -> str:
    """`aten::add.Tensor` for ATen/prims overloads, `operator::mul` for SymInt math."""
    if isinstance(target, torch._ops.OpOverload):
        schema = target._schema
        return f"{schema.name}.{schema.overload_name}" if schema.overload_name else schema.name
    try:
        if target in PY_OPS:
            return PY_OPS[target]
    except TypeError:
        pass
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    return f"python::{name}"


def export_graph(gm: torch.fx.GraphModule, name: str = "forward", weights=()) -> str:
    """The graph in Genie's exchange format, as JSON text; ``weights`` are the
    indices of inputs holding parameters or buffers."""
    return json.dumps(_Exporter(gm).export(name, frozenset(weights)))


def weight_inputs(kind: str) -> List[int]:
    """Indices of the graph inputs aot_autograd knows to be parameters or
    buffers (its static inputs), for the graph being compiled now. Only
    forward and inference graphs: the indices describe the forward's inputs."""
    if kind == "backward":
        return []
    ctx = torch._guards.TracingContext.try_get()
    meta = getattr(ctx, "fw_metadata", None)
    return list(getattr(meta, "static_input_indices", None) or [])
