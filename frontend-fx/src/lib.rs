//! FX graph → `sem` dialect.
//!
//! Reads the JSON exchange format written by `python/genie/fx_export.py` (one
//! FX graph from TorchDynamo + aot_autograd with core ATen decompositions) and
//! builds a verified `sem` module. ATen arguments are matched to the `sem` op
//! by name: an argument whose name is one of the op's attributes becomes that
//! attribute; tensors (and Scalars the op takes as values) become operands, in
//! schema order; placement arguments (device, layout, memory format) are
//! dropped, since the runtime decides placement. Unknown ops and arguments
//! fail loudly, naming the op, the node and the PyTorch module it came from.

use genie_ir::dialects::{lookup, AttrKind, OpDef};
use genie_ir::{parse_sym_expr, verify, AttrDict, Attribute, Builder, DType, Dim, Location, Module, SymExpr, TensorType, Type, ValueId};
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::fmt;

/// The exchange-format version this importer reads.
pub const FORMAT_VERSION: u64 = 1;

/// An import failure: what, and where in the PyTorch program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError(pub String);

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImportError {}

type Result<T> = std::result::Result<T, ImportError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(ImportError(msg.into()))
}

/// ATen overloads whose `sem` op is not `sem.<name>`.
const OP_ALIASES: &[(&str, &str)] = &[
    ("aten::max.dim", "sem.max_dim"),
    ("aten::min.dim", "sem.min_dim"),
    ("aten::max", "sem.amax"),
    ("aten::min", "sem.amin"),
    ("aten::true_divide", "sem.div"),
    ("operator::add", "sem.add"),
    ("operator::sub", "sem.sub"),
    ("operator::mul", "sem.mul"),
    ("operator::truediv", "sem.div"),
    ("operator::floordiv", "sem.floor_divide"),
    ("operator::mod", "sem.remainder"),
    ("operator::pow", "sem.pow"),
    ("operator::neg", "sem.neg"),
    ("operator::eq", "sem.eq"),
    ("operator::ne", "sem.ne"),
    ("operator::lt", "sem.lt"),
    ("operator::le", "sem.le"),
    ("operator::gt", "sem.gt"),
    ("operator::ge", "sem.ge"),
    ("operator::max", "sem.maximum"),
    ("operator::min", "sem.minimum"),
    ("operator::floor", "sem.floor"),
    ("operator::ceil", "sem.ceil"),
];

/// A graph constant (`get_attr` in FX): `{"op": "genie::constant",
/// "resource": handle, "results": [TYPE]}`.
pub const CONSTANT_OP: &str = "genie::constant";

/// Arguments about placement and memory layout, which the runtime decides.
const PLACEMENT_ARGS: &[&str] = &["device", "layout", "pin_memory", "memory_format", "non_blocking"];

/// The `sem` op for an exchange-format op name (`aten::add.Tensor`).
pub fn sem_op_for(op: &str) -> Option<&'static OpDef> {
    let base = op.split_once('.').map_or(op, |(b, _)| b);
    let alias = OP_ALIASES.iter().find(|(k, _)| *k == op).or_else(|| OP_ALIASES.iter().find(|(k, _)| *k == base));
    match alias {
        Some((_, sem)) => lookup(sem),
        None => {
            let (ns, name) = base.split_once("::")?;
            if ns == "aten" || ns == "prims" {
                lookup(&format!("sem.{name}"))
            } else {
                None
            }
        }
    }
}

/// Imports one graph; the result verifies.
pub fn import_graph(json: &str) -> Result<Module> {
    let g: Value = serde_json::from_str(json).map_err(|e| ImportError(format!("graph is not valid JSON: {e}")))?;
    let version = g.get("version").and_then(Value::as_u64);
    if version != Some(FORMAT_VERSION) {
        return err(format!("graph format version {version:?}; this importer reads version {FORMAT_VERSION}"));
    }
    let name = g.get("name").and_then(Value::as_str).unwrap_or("forward");
    let mut m = Module::new(None);
    m.file = format!("<fx graph '{name}'>");
    if let Some(symbols) = g.get("symbols").and_then(Value::as_object) {
        let mut ranges = AttrDict::new();
        for (sym, range) in symbols {
            let r: Vec<Attribute> = range.as_array().into_iter().flatten().filter_map(Value::as_i64).map(Attribute::int).collect();
            ranges.set(sym.clone(), Attribute::Array(r));
        }
        if !ranges.is_empty() {
            m.attrs.set(genie_ir::SYMBOLS_ATTR, Attribute::Dict(ranges));
        }
    }
    let inputs = array(&g, "inputs")?;
    let input_types: Vec<Type> = inputs.iter().map(|i| parse_type(field(i, "type")?)).collect::<Result<_>>()?;
    let (f, entry) = Builder::function(&mut m, name, input_types, vec![]);
    // Parameters and buffers: the planner keeps them resident.
    let weights: Vec<Attribute> = inputs.iter().enumerate().filter(|(_, i)| i.get("weight").and_then(Value::as_bool) == Some(true)).map(|(k, _)| Attribute::int(k as i64)).collect();
    if !weights.is_empty() {
        m.op_mut(f).attrs.set("genie.weight_args", Attribute::Array(weights));
    }
    let mut imp = Importer { m: &mut m, entry, values: FxHashMap::default() };
    for (i, input) in inputs.iter().enumerate() {
        let n = str_field(input, "name")?;
        let v = imp.m.block_args(entry)[i];
        imp.values.insert(n.to_string(), vec![v]);
    }
    for node in array(&g, "nodes")? {
        imp.node(node)?;
    }
    let mut results = Vec::new();
    for out in array(&g, "outputs")? {
        results.push(imp.operand(out)?);
    }
    let result_types: Vec<Type> = results.iter().map(|&v| imp.m.value_type(v).clone()).collect();
    let ins = imp.m.op(f).attr("function_type").and_then(Attribute::as_function_type).map(|(i, _)| i.to_vec()).unwrap_or_default();
    imp.m.op_mut(f).attrs.set("function_type", Attribute::ty(Type::Function(ins, result_types)));
    Builder::at_end(imp.m, entry).op("func.return", &results, vec![], AttrDict::new());
    verify(&m).map_err(|d| ImportError(format!("imported graph '{name}' does not verify:\n{d}")))?;
    Ok(m)
}

struct Importer<'m> {
    m: &'m mut Module,
    entry: genie_ir::BlockId,
    /// FX node name → its result values.
    values: FxHashMap<String, Vec<ValueId>>,
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value> {
    v.get(name).ok_or_else(|| ImportError(format!("missing field '{name}' in {}", short(v))))
}

fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str> {
    field(v, name)?.as_str().ok_or_else(|| ImportError(format!("field '{name}' must be a string in {}", short(v))))
}

fn array<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>> {
    field(v, name)?.as_array().ok_or_else(|| ImportError(format!("field '{name}' must be an array")))
}

/// A value's JSON, cut short for messages.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!("{}…", &s[..s.char_indices().nth(117).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

fn parse_dtype(s: &str) -> Result<DType> {
    DType::from_mlir_name(s).ok_or_else(|| ImportError(format!("unknown dtype '{s}'")))
}

fn parse_dim(d: &Value) -> Result<Dim> {
    match d {
        Value::Number(n) => n.as_i64().map(Dim::Static).ok_or_else(|| ImportError(format!("bad dim {n}"))),
        Value::String(s) if s == "?" => Ok(Dim::Dynamic),
        Value::String(s) => {
            let e = parse_sym_expr(s).map_err(ImportError)?.simplify();
            Ok(match (e.as_const(), e.as_sym()) {
                (Some(c), _) => Dim::Static(c),
                (_, Some(sym)) => Dim::Sym(sym),
                _ => Dim::Dynamic,
            })
        }
        other => err(format!("bad dim {other}")),
    }
}

fn parse_type(t: &Value) -> Result<Type> {
    if let Some(tt) = t.get("tensor") {
        let dims = array(tt, "shape")?.iter().map(parse_dim).collect::<Result<Vec<_>>>()?;
        return Ok(Type::Tensor(TensorType::new(dims, parse_dtype(str_field(tt, "dtype")?)?)));
    }
    if let Some(s) = t.get("scalar").and_then(Value::as_str) {
        return Ok(Type::Scalar(parse_dtype(s)?));
    }
    if t.get("none").is_some() {
        return Ok(Type::None);
    }
    err(format!("unknown type {}", short(t)))
}

/// `loc("module.path"("file.py":line:0))`, plus class and source function.
fn location(loc: Option<&Value>) -> (Location, Vec<(&'static str, String)>) {
    let Some(loc) = loc else { return (Location::Unknown, vec![]) };
    let s = |k: &str| loc.get(k).and_then(Value::as_str);
    let file = s("file").map(|f| Location::file(f, loc.get("line").and_then(Value::as_u64).unwrap_or(0) as u32, 0));
    let l = match (s("module").filter(|m| !m.is_empty()), file) {
        (Some(m), child) => Location::module(m, child),
        (None, Some(f)) => f,
        (None, None) => Location::Unknown,
    };
    let mut attrs = vec![];
    if let Some(c) = s("class") {
        attrs.push(("sem.module_class", c.to_string()));
    }
    if let Some(f) = s("source_fn") {
        attrs.push(("sem.source_fn", f.to_string()));
    }
    (l, attrs)
}

/// Whether an ATen argument (its TorchScript type: `Tensor`,
/// `Optional[Tensor]`, `List[Optional[Tensor]]`, `number` for a Scalar) holds
/// values the op takes as operands.
fn is_value_type(ty: &str) -> bool {
    let mut core = ty;
    loop {
        let inner = core.strip_prefix("Optional[").or_else(|| core.strip_prefix("List[")).and_then(|c| c.strip_suffix(']'));
        match inner {
            Some(c) => core = c,
            None => break,
        }
    }
    matches!(core, "Tensor" | "number" | "Scalar")
}

fn float_value(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            "nan" => Some(f64::NAN),
            _ => None,
        },
        _ => None,
    }
}

impl Importer<'_> {
    fn node(&mut self, node: &Value) -> Result<()> {
        let name = str_field(node, "name")?;
        let op = str_field(node, "op")?;
        let (loc, sem_attrs) = location(node.get("loc"));
        let at = if loc.is_unknown() { String::new() } else { format!(" at {loc}") };
        if op == CONSTANT_OP {
            return self.constant(node, name, loc);
        }
        let Some(def) = sem_op_for(op) else {
            return err(format!("unsupported op '{op}' (node '{name}'{at}): no sem op implements it"));
        };
        let mut operands = Vec::new();
        let mut attrs = AttrDict::new();
        let results: Vec<Type> = array(node, "results")?.iter().map(parse_type).collect::<Result<_>>()?;
        for arg in array(node, "args")? {
            let arg_name = str_field(arg, "name")?;
            let ty = arg.get("type").and_then(Value::as_str).unwrap_or("");
            let is_default = arg.get("default").and_then(Value::as_bool).unwrap_or(false);
            let value = field(arg, "value")?;
            let context = || format!("argument '{arg_name}' of '{op}' (node '{name}'{at})");
            if value.get("ignored").is_some() {
                continue;
            }
            if let Some(a) = def.attr_def(arg_name) {
                match self.attribute(value, a.kind).map_err(|e| ImportError(format!("{}: {e}", context())))? {
                    Some(attr) => {
                        attrs.set(a.name, attr);
                    }
                    // A required dtype left to PyTorch's default: the result's.
                    None if a.required && a.name == "dtype" => {
                        if let Some(d) = results.first().and_then(Type::dtype) {
                            attrs.set(a.name, Attribute::ty(Type::Scalar(d)));
                        }
                    }
                    None => {}
                }
                continue;
            }
            if is_value_type(ty) || op.starts_with("operator::") {
                self.operands(value, &mut operands).map_err(|e| ImportError(format!("{}: {e}", context())))?;
                continue;
            }
            if is_default || value.is_null() || PLACEMENT_ARGS.contains(&arg_name) {
                continue;
            }
            return err(format!("{} ({}) has no place in '{}'", context(), short(value), def.name));
        }
        for (k, v) in sem_attrs {
            attrs.set(k, Attribute::String(v));
        }
        let mut b = Builder::at_end(self.m, self.entry);
        b.loc = loc;
        let op_id = b.op(def.name, &operands, results, attrs);
        let vals = self.m.op(op_id).results.to_vec();
        self.values.insert(name.to_string(), vals);
        Ok(())
    }

    /// A tensor constant of the graph (a lifted `get_attr`): its data stays
    /// outside the IR, named by a `dense_resource` handle.
    fn constant(&mut self, node: &Value, name: &str, loc: Location) -> Result<()> {
        let handle = node.get("resource").and_then(Value::as_str).unwrap_or(name);
        let ty = match array(node, "results")?.first().map(parse_type).transpose()? {
            Some(Type::Tensor(t)) => t,
            other => return err(format!("constant '{name}' must be a tensor, got {other:?}")),
        };
        let mut attrs = AttrDict::new();
        attrs.set("value", Attribute::DenseResource { handle: handle.to_string(), ty: Box::new(ty.clone()) });
        let mut b = Builder::at_end(self.m, self.entry);
        b.loc = loc;
        let v = b.value("sem.constant", &[], Type::Tensor(ty), attrs);
        self.values.insert(name.to_string(), vec![v]);
        Ok(())
    }

    /// An attribute from an argument value; `None` when the argument is absent.
    fn attribute(&self, v: &Value, kind: AttrKind) -> std::result::Result<Option<Attribute>, String> {
        if v.is_null() {
            return Ok(None);
        }
        let scalar = |v: &Value| -> std::result::Result<Attribute, String> {
            if let Some(b) = v.get("bool").and_then(Value::as_bool) {
                return Ok(Attribute::Bool(b));
            }
            if let Some(i) = v.get("int").and_then(Value::as_i64) {
                return Ok(Attribute::int(i));
            }
            if let Some(f) = v.get("float").and_then(float_value) {
                return Ok(Attribute::Float(f, DType::F64));
            }
            if let Some(s) = v.get("sym").and_then(Value::as_str) {
                let e = parse_sym_expr(s)?.simplify();
                return Ok(e.as_const().map_or(Attribute::Sym(e), Attribute::int));
            }
            if let Some(s) = v.get("str").and_then(Value::as_str) {
                return Ok(Attribute::String(s.to_string()));
            }
            if let Some(d) = v.get("dtype").and_then(Value::as_str) {
                return Ok(Attribute::ty(Type::Scalar(DType::from_mlir_name(d).ok_or_else(|| format!("unknown dtype '{d}'"))?)));
            }
            Err(format!("cannot make an attribute of {}", short(v)))
        };
        if let Some(items) = v.get("list").and_then(Value::as_array) {
            return items.iter().map(scalar).collect::<std::result::Result<Vec<_>, _>>().map(|a| Some(Attribute::Array(a)));
        }
        // A float-typed attribute given an integer (`eps=0`), and the reverse
        // for integer attributes given a whole float.
        Ok(Some(match (kind, scalar(v)?) {
            (AttrKind::Float, Attribute::Int(i, _)) => Attribute::Float(i as f64, DType::F64),
            (_, a) => a,
        }))
    }

    /// Operand values for an argument: refs, lists of refs, `none`, constants.
    fn operands(&mut self, v: &Value, out: &mut Vec<ValueId>) -> std::result::Result<(), String> {
        if let Some(items) = v.get("list").and_then(Value::as_array) {
            for item in items {
                out.push(self.operand(item).map_err(|e| e.0)?);
            }
            return Ok(());
        }
        out.push(self.operand(v).map_err(|e| e.0)?);
        Ok(())
    }

    /// One value: a node result, `none`, or a constant built on the spot.
    fn operand(&mut self, v: &Value) -> Result<ValueId> {
        if let Some(r) = v.get("ref").and_then(Value::as_str) {
            let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            return self
                .values
                .get(r)
                .and_then(|vs| vs.get(index).copied())
                .ok_or_else(|| ImportError(format!("reference to unknown value '{r}'#{index}")));
        }
        let (value, ty) = if v.is_null() {
            return Ok(Builder::at_end(self.m, self.entry).value("sem.none", &[], Type::None, AttrDict::new()));
        } else if let Some(b) = v.get("bool").and_then(Value::as_bool) {
            (Attribute::Bool(b), DType::I1)
        } else if let Some(i) = v.get("int").and_then(Value::as_i64) {
            (Attribute::int(i), DType::I64)
        } else if let Some(f) = v.get("float").and_then(float_value) {
            (Attribute::Float(f, DType::F64), DType::F64)
        } else if let Some(s) = v.get("sym").and_then(Value::as_str) {
            let e: SymExpr = parse_sym_expr(s).map_err(ImportError)?.simplify();
            (e.as_const().map_or(Attribute::Sym(e), Attribute::int), DType::I64)
        } else {
            return err(format!("cannot pass {} as a value", short(v)));
        };
        let mut attrs = AttrDict::new();
        attrs.set("value", value);
        Ok(Builder::at_end(self.m, self.entry).value("sem.constant", &[], Type::Scalar(ty), attrs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADD: &str = r#"{"version": 1, "name": "forward", "symbols": {"s0": [2, 64]},
      "inputs": [{"name": "x", "type": {"tensor": {"shape": ["s0", 4], "dtype": "f32"}}}],
      "nodes": [
        {"name": "add", "op": "aten::add.Tensor",
         "args": [{"name": "self", "type": "Tensor", "value": {"ref": "x"}},
                  {"name": "other", "type": "Tensor", "value": {"ref": "x"}},
                  {"name": "alpha", "type": "Scalar", "default": true, "value": {"int": 1}}],
         "results": [{"tensor": {"shape": ["s0", 4], "dtype": "f32"}}],
         "loc": {"module": "block.0", "class": "Block", "file": "model.py", "line": 7}},
        {"name": "view", "op": "aten::view",
         "args": [{"name": "self", "type": "Tensor", "value": {"ref": "add"}},
                  {"name": "size", "type": "SymInt[]", "value": {"list": [{"int": -1}]}}],
         "results": [{"tensor": {"shape": ["(s0 * 4)"], "dtype": "f32"}}]}],
      "outputs": [{"ref": "view"}]}"#;

    #[test]
    fn imports_and_verifies() {
        let m = import_graph(ADD).unwrap();
        let text = genie_ir::print_module(&m, false);
        assert!(text.contains("sem.add %arg0, %arg0 {alpha = 1, sem.module_class = \"Block\"} : tensor<s0x4xf32> loc(\"block.0\"(\"model.py\":7:0))"), "{text}");
        assert!(text.contains("sem.view %0 {size = [-1]} : tensor<?xf32>"), "{text}");
        assert!(text.contains("genie.symbols = {s0 = [2, 64]}"), "{text}");
    }

    #[test]
    fn weight_inputs_are_listed_on_the_function() {
        let json = ADD.replace(r#""inputs": [{"name": "x","#, r#""inputs": [{"name": "x", "weight": true,"#);
        let text = genie_ir::print_module(&import_graph(&json).unwrap(), false);
        assert!(text.contains("genie.weight_args = [0]"), "{text}");
        assert!(!genie_ir::print_module(&import_graph(ADD).unwrap(), false).contains("genie.weight_args"));
    }

    #[test]
    fn unknown_ops_name_op_and_module() {
        let bad = ADD.replace("aten::view", "aten::frobnicate");
        let e = import_graph(&bad).unwrap_err().to_string();
        assert!(e.contains("unsupported op 'aten::frobnicate' (node 'view')"), "{e}");
        let bad = ADD.replace("aten::add.Tensor", "aten::frobnicate");
        let e = import_graph(&bad).unwrap_err().to_string();
        assert!(e.contains("at module 'block.0' (model.py:7)"), "{e}");
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(import_graph("{").unwrap_err().0.contains("not valid JSON"));
        assert!(import_graph(r#"{"version": 9}"#).unwrap_err().0.contains("version"));
        let bad = ADD.replace(r#"{"ref": "x"}"#, r#"{"ref": "nope"}"#);
        assert!(import_graph(&bad).unwrap_err().0.contains("unknown value 'nope'"));
    }
}
