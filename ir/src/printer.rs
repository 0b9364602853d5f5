//! Prints a module in the readable custom form or in MLIR's generic form.
//!
//! Custom form: `%0 = sem.mm %arg0, %arg1 {attrs} : tensor<4x16xf32> loc(…)`
//! (result types only; operand types are known from their definitions), with
//! `module`, `func.func` and `return` in their usual MLIR pretty syntax.
//! Generic form: `%0 = "sem.mm"(%arg0, %arg1) : (…) -> tensor<4x16xf32>`,
//! readable by upstream `mlir-opt`.

use crate::attrs::{write_attr_dict, write_symbol_name, AttrDict, Attribute};
use crate::module::{BlockId, Module, OpId, ValueDef, ValueId};
use crate::types::{write_result_types, write_type, Type};
use std::fmt::Write;

pub fn print_module(m: &Module, generic: bool) -> String {
    let mut p = Printer { m, generic, out: String::with_capacity(m.num_ops() * 96), names: vec![UNNAMED; m.num_values()], next_arg: 0, next_result: 0 };
    p.module();
    p.out
}

const UNNAMED: (u32, bool) = (u32::MAX, false);

struct Printer<'a> {
    m: &'a Module,
    generic: bool,
    out: String,
    /// Per value: its number and whether it is a block argument (`%argN`).
    names: Vec<(u32, bool)>,
    next_arg: u32,
    next_result: u32,
}

impl Printer<'_> {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn module(&mut self) {
        let m = self.m;
        if self.generic {
            self.out.push_str("\"builtin.module\"() ({\n");
            // MLIR reads `({})` as a region with no block; a module has one.
            if m.first_op(m.body()).is_none() {
                self.out.push_str("^bb0:\n");
            }
            self.block_ops(m.body(), 1);
            self.out.push_str("})");
            let mut attrs = m.attrs.clone();
            if let Some(name) = &m.name {
                attrs.set("sym_name", Attribute::String(name.clone()));
            }
            if !attrs.is_empty() {
                self.out.push(' ');
                write_attr_dict(&mut self.out, &attrs, true);
            }
            self.out.push_str(" : () -> ()\n");
        } else {
            self.out.push_str("module");
            if let Some(name) = &m.name {
                self.out.push(' ');
                write_symbol_name(&mut self.out, name);
            }
            if !m.attrs.is_empty() {
                self.out.push_str(" attributes ");
                write_attr_dict(&mut self.out, &m.attrs, false);
            }
            self.out.push_str(" {\n");
            self.block_ops(m.body(), 1);
            self.out.push_str("}\n");
        }
    }

    fn block_ops(&mut self, b: BlockId, depth: usize) {
        let mut cur = self.m.first_op(b);
        while let Some(op) = cur {
            self.op(op, depth);
            cur = self.m.next_op(op);
        }
    }

    fn value(&mut self, v: ValueId) {
        let m = self.m;
        match self.names.get(v.index()).copied().filter(|&n| n != UNNAMED) {
            Some((n, true)) => {
                let _ = write!(self.out, "%arg{n}");
            }
            Some((n, false)) => {
                let _ = write!(self.out, "%{n}");
                if let ValueDef::Result { op, index } = m.value_def(v) {
                    if m.op(op).results.len() > 1 {
                        let _ = write!(self.out, "#{index}");
                    }
                }
            }
            // A use before its definition: print something recognisable; the
            // verifier reports the dominance error.
            None => {
                let _ = write!(self.out, "%<undefined {}>", v.0);
            }
        }
    }

    fn values(&mut self, vs: &[ValueId]) {
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.value(v);
        }
    }

    /// Types of `vs`, comma separated.
    fn value_types(&mut self, vs: &[ValueId]) {
        for (i, &v) in vs.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            write_type(&mut self.out, self.m.value_type(v), self.generic);
        }
    }

    fn name_block_args(&mut self, b: BlockId) {
        for &a in self.m.block_args(b) {
            self.names[a.index()] = (self.next_arg, true);
            self.next_arg += 1;
        }
    }

    fn block_arg_list(&mut self, b: BlockId) {
        let m = self.m;
        for (i, &a) in m.block_args(b).iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.value(a);
            self.out.push_str(": ");
            write_type(&mut self.out, m.value_type(a), self.generic);
        }
    }

    fn loc(&mut self, op: OpId) {
        let loc = &self.m.op(op).loc;
        if !loc.is_unknown() {
            self.out.push(' ');
            loc.write(&mut self.out);
        }
    }

    fn op(&mut self, op: OpId, depth: usize) {
        let m = self.m;
        let data = m.op(op);
        // Sibling functions reuse the same numbers; values visible around a
        // function keep theirs (MLIR rejects shadowing an outer name).
        if data.def.traits.has(crate::dialects::Traits::ISOLATED) {
            let saved = (self.next_arg, self.next_result);
            self.op_in_scope(op, depth);
            (self.next_arg, self.next_result) = saved;
        } else {
            self.op_in_scope(op, depth);
        }
    }

    fn op_in_scope(&mut self, op: OpId, depth: usize) {
        let m = self.m;
        let data = m.op(op);
        if !self.generic {
            match data.name() {
                "func.func" => return self.custom_func(op, depth),
                "func.return" => {
                    self.indent(depth);
                    self.out.push_str("return");
                    if !data.operands.is_empty() {
                        self.out.push(' ');
                        self.values(&data.operands);
                        self.out.push_str(" : ");
                        self.value_types(&data.operands);
                    }
                    self.loc(op);
                    self.out.push('\n');
                    return;
                }
                _ => {}
            }
        }
        self.indent(depth);
        if !data.results.is_empty() {
            let n = self.next_result;
            self.next_result += 1;
            for &r in &data.results {
                self.names[r.index()] = (n, false);
            }
            let _ = write!(self.out, "%{n}");
            if data.results.len() > 1 {
                let _ = write!(self.out, ":{}", data.results.len());
            }
            self.out.push_str(" = ");
        }
        if self.generic {
            let _ = write!(self.out, "\"{}\"(", data.name());
            self.values(&data.operands);
            self.out.push(')');
            self.regions(op, depth);
            if !data.attrs.is_empty() {
                self.out.push(' ');
                write_attr_dict(&mut self.out, &data.attrs, true);
            }
            self.out.push_str(" : (");
            self.value_types(&data.operands);
            self.out.push_str(") -> ");
            if data.results.len() == 1 && !matches!(m.value_type(data.results[0]), Type::Function(..)) {
                write_type(&mut self.out, m.value_type(data.results[0]), true);
            } else {
                self.out.push('(');
                self.value_types(&data.results);
                self.out.push(')');
            }
        } else {
            self.out.push_str(data.name());
            if !data.operands.is_empty() {
                self.out.push(' ');
                self.values(&data.operands);
            }
            self.regions(op, depth);
            if !data.attrs.is_empty() {
                self.out.push(' ');
                write_attr_dict(&mut self.out, &data.attrs, false);
            }
            if !data.results.is_empty() {
                self.out.push_str(" : ");
                self.value_types(&data.results);
            }
        }
        self.loc(op);
        self.out.push('\n');
    }

    /// ` ({\n^bb0(args):\n ops }, {…})`
    fn regions(&mut self, op: OpId, depth: usize) {
        let m = self.m;
        let regions = &m.op(op).regions;
        if regions.is_empty() {
            return;
        }
        self.out.push_str(" (");
        for (i, &r) in regions.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str("{\n");
            for &b in m.region_blocks(r) {
                self.name_block_args(b);
                self.indent(depth);
                self.out.push_str("^bb0");
                if !m.block_args(b).is_empty() {
                    self.out.push('(');
                    self.block_arg_list(b);
                    self.out.push(')');
                }
                self.out.push_str(":\n");
                self.block_ops(b, depth + 1);
            }
            self.indent(depth);
            self.out.push('}');
        }
        self.out.push(')');
    }

    fn custom_func(&mut self, op: OpId, depth: usize) {
        let m = self.m;
        let data = m.op(op);
        self.indent(depth);
        self.out.push_str("func.func ");
        if let Some(v) = data.attr("sym_visibility").and_then(Attribute::as_str) {
            self.out.push_str(v);
            self.out.push(' ');
        }
        write_symbol_name(&mut self.out, m.symbol_name(op).unwrap_or(""));
        let entry = m.entry_block(op);
        self.out.push('(');
        if let Some(b) = entry {
            self.name_block_args(b);
            self.block_arg_list(b);
        }
        self.out.push(')');
        if let Some((_, results)) = data.attr("function_type").and_then(Attribute::as_function_type) {
            if !results.is_empty() {
                self.out.push_str(" -> ");
                write_result_types(&mut self.out, results, false);
            }
        }
        let mut extra = AttrDict::new();
        for (k, v) in data.attrs.iter().filter(|(k, _)| !matches!(*k, "sym_name" | "function_type" | "sym_visibility")) {
            extra.set(k.to_string(), v.clone());
        }
        if !extra.is_empty() {
            self.out.push_str(" attributes ");
            write_attr_dict(&mut self.out, &extra, false);
        }
        self.out.push_str(" {\n");
        if let Some(b) = entry {
            self.block_ops(b, depth + 1);
        }
        self.indent(depth);
        self.out.push('}');
        self.loc(op);
        self.out.push('\n');
    }
}
