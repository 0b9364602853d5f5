//! `genie-sem-fold-matmul-scale`: moves multiplications by a constant scalar
//! off the operands of a matrix product onto the product itself:
//!
//! ```text
//! bmm(view(mul(q, c1)), view(expand(mul(permute(k), c2))))
//!   →  mul(bmm(view(q), view(expand(permute(k)))), c1 * c2)
//! ```
//!
//! `scaled_dot_product_attention`, decomposed, scales both Q and Kᵀ by
//! √scale. In decode Kᵀ is the whole KV cache while the product is one row
//! per head, so the scale costs a full pass over the cache (strided, into a
//! fresh buffer) where the product needs a few hundred multiplications;
//! without the copy, the product also reads K in place. Only shape ops that
//! commute with a scalar multiplication (views, permutes, expands, …) may sit
//! between the `mul` and the product, and each value moved must have no other
//! use.

use crate::Pass;
use genie_ir::{AttrDict, Attribute, Builder, DType, Diagnostics, Module, OpId, Type, ValueId};

pub struct FoldMatmulScale;

/// Ops that move or alias elements without changing them.
const SHAPE_OPS: &[&str] = &["sem.view", "sem.reshape", "sem._unsafe_view", "sem.expand", "sem.permute", "sem.unsqueeze", "sem.squeeze", "sem.clone", "sem.alias"];

impl Pass for FoldMatmulScale {
    fn name(&self) -> &'static str {
        "genie-sem-fold-matmul-scale"
    }

    fn description(&self) -> &'static str {
        "move multiplications by constant scalars off matrix-product operands onto the product"
    }

    fn run(&self, m: &mut Module) -> Result<(), Diagnostics> {
        for op in m.walk() {
            if !m.is_erased(op) && matches!(m.op(op).name(), "sem.mm" | "sem.bmm") {
                fold(m, op);
            }
        }
        Ok(())
    }
}

fn fold(m: &mut Module, product: OpId) {
    let mut scale = 1.0;
    let mut found = false;
    for index in 0..2 {
        if let Some((user, operand, mul, c)) = scaled_operand(m, product, index) {
            let unscaled = m.op(mul).operands[0];
            m.set_operand(user, operand, unscaled);
            m.erase_op(mul);
            scale *= c;
            found = true;
        }
    }
    if !found {
        return;
    }
    let result = m.op(product).results[0];
    let ty = m.value_type(result).clone();
    let loc = m.op(product).loc.clone();
    let next = m.next_op(product).expect("a matrix product is followed by at least its function's return");
    let mut b = Builder::before(m, next);
    b.loc = loc;
    let mut attrs = AttrDict::new();
    attrs.set("value", Attribute::Float(scale, DType::F64));
    let c = b.value("sem.constant", &[], Type::Scalar(DType::F64), attrs);
    let scaled = b.value("sem.mul", &[result, c], ty, AttrDict::new());
    // Every use of the product but the new multiplication reads the scaled value.
    let uses: Vec<_> = m.uses(result).iter().copied().filter(|u| m.op(u.op).results.first() != Some(&scaled)).collect();
    for u in uses {
        m.set_operand(u.op, u.operand as usize, scaled);
    }
}

/// Walks operand `index` of `product` back through single-use shape ops to a
/// single-use `mul(x, constant scalar)` whose result has `x`'s type. Returns
/// the op reading the `mul`, which operand, the `mul`, and the scalar.
fn scaled_operand(m: &Module, product: OpId, index: usize) -> Option<(OpId, usize, OpId, f64)> {
    let (mut user, mut operand) = (product, index);
    loop {
        let v = m.op(user).operands[operand];
        if m.uses(v).len() != 1 {
            return None;
        }
        let def = m.defining_op(v)?;
        let name = m.op(def).name();
        if SHAPE_OPS.contains(&name) {
            (user, operand) = (def, 0);
            continue;
        }
        if name != "sem.mul" {
            return None;
        }
        let ops = &m.op(def).operands;
        let c = scalar_constant(m, ops[1])?;
        return (m.value_type(ops[0]) == m.value_type(v)).then_some((user, operand, def, c));
    }
}

fn scalar_constant(m: &Module, v: ValueId) -> Option<f64> {
    if !matches!(m.value_type(v), Type::Scalar(DType::F64 | DType::F32)) {
        return None;
    }
    let d = m.defining_op(v)?;
    (m.op(d).name() == "sem.constant").then(|| m.op(d).attr("value")?.as_float()).flatten()
}
