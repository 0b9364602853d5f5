//! `genie-sem-infer-shapes`: refines result types from the `sem` shape rules.
//!
//! Walks each function in order, so refined operand types flow forward: a `?`
//! dim becomes static or symbolic wherever the rules can tell, and function
//! result types follow what the body returns. An op whose declared type
//! contradicts its rule is an error.

use crate::Pass;
use genie_ir::dialects::InferCtx;
use genie_ir::{Attribute, Diagnostics, Module, Severity, Type};

pub struct InferShapes;

impl Pass for InferShapes {
    fn name(&self) -> &'static str {
        "genie-sem-infer-shapes"
    }

    fn description(&self) -> &'static str {
        "infer result shapes and dtypes of sem ops (symbolic dims included)"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        let mut diags = Diagnostics::new();
        for op in m.walk() {
            let data = m.op(op);
            let Some(infer) = data.def.infer else { continue };
            let operand_kinds_ok = data.operands.iter().all(|&v| matches!(m.value_type(v), Type::Tensor(_) | Type::Scalar(_) | Type::None));
            if !operand_kinds_ok {
                continue;
            }
            let ctx = InferCtx {
                op_name: data.def.name,
                operands: data.operands.iter().map(|&v| m.value_type(v)).collect(),
                attrs: &data.attrs,
                num_results: data.results.len(),
            };
            let inferred = match infer(&ctx) {
                Ok(t) if t.len() == data.results.len() => t,
                Ok(t) => {
                    let msg = format!("produces {} result(s), but {} are declared", t.len(), data.results.len());
                    diags.0.push(m.op_diagnostic(op, Severity::Error, &msg));
                    continue;
                }
                Err(msg) => {
                    diags.0.push(m.op_diagnostic(op, Severity::Error, &msg));
                    continue;
                }
            };
            let results = data.results.clone();
            for (i, (r, want)) in results.into_iter().zip(inferred).enumerate() {
                let have = m.value_type(r);
                if !want.compatible(have) {
                    let msg = format!("result #{i} has type {have}, but its operands give {want}");
                    diags.0.push(m.op_diagnostic(op, Severity::Error, &msg));
                    continue;
                }
                let refined = have.refine(&want);
                m.set_value_type(r, refined);
            }
        }
        if diags.has_errors() {
            return Err(diags);
        }
        refine_function_results(m);
        Ok(())
    }
}

/// Function result types take the (more precise) types of what they return.
fn refine_function_results(m: &mut Module) {
    for f in m.functions() {
        let Some(entry) = m.entry_block(f) else { continue };
        let Some(ret) = m.last_op(entry) else { continue };
        if m.op(ret).name() != "func.return" {
            continue;
        }
        let returned: Vec<Type> = m.op(ret).operands.iter().map(|&v| m.value_type(v).clone()).collect();
        let Some((ins, outs)) = m.op(f).attr("function_type").and_then(Attribute::as_function_type) else { continue };
        let (ins, outs) = (ins.to_vec(), outs.to_vec());
        if outs.len() != returned.len() {
            continue;
        }
        let outs: Vec<Type> = outs.iter().zip(&returned).map(|(o, r)| if r.compatible(o) { o.refine(r) } else { o.clone() }).collect();
        m.op_mut(f).attrs.set("function_type", Attribute::ty(Type::Function(ins, outs)));
    }
}
