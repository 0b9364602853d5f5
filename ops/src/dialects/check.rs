//! Checks of an op's use against its definition, shared by the IR verifier
//! and the plan verifier: operand and result counts and kinds, attribute
//! kinds, and the shape/dtype rule.

use super::{AttrKind, InferCtx, OpDef, Slot};
use crate::attrs::{AttrDict, Attribute};
use crate::types::Type;

/// Operand or result index → the slot describing it, given at most one
/// variadic slot: slots before it match from the front, after it from the back.
pub fn slot_for(slots: &[Slot], count: usize, i: usize) -> Option<&Slot> {
    match slots.iter().position(|s| s.variadic) {
        None => slots.get(i),
        Some(v) => {
            let after = slots.len() - v - 1;
            if i < v {
                slots.get(i)
            } else if i >= count.saturating_sub(after) {
                slots.get(slots.len() - (count - i))
            } else {
                slots.get(v)
            }
        }
    }
}

pub fn arity_ok(slots: &[Slot], count: usize) -> bool {
    let fixed = slots.iter().filter(|s| !s.variadic).count();
    if slots.iter().any(|s| s.variadic) {
        count >= fixed
    } else {
        count == fixed
    }
}

pub fn arity_text(slots: &[Slot]) -> String {
    let fixed = slots.iter().filter(|s| !s.variadic).count();
    if slots.iter().any(|s| s.variadic) {
        format!("at least {fixed}")
    } else {
        fixed.to_string()
    }
}

pub fn attr_matches(kind: AttrKind, a: &Attribute) -> bool {
    match kind {
        AttrKind::Int => matches!(a, Attribute::Int(..)),
        AttrKind::Float => matches!(a, Attribute::Float(..)),
        AttrKind::Number => matches!(a, Attribute::Int(..) | Attribute::Float(..)),
        AttrKind::Bool => matches!(a, Attribute::Bool(_) | Attribute::Unit),
        AttrKind::String => matches!(a, Attribute::String(_)),
        AttrKind::Enum(options) => a.as_str().is_some_and(|s| options.contains(&s)),
        AttrKind::IntOrSym => matches!(a, Attribute::Int(..) | Attribute::Sym(_)),
        AttrKind::IntOrList => matches!(a, Attribute::Int(..)) || attr_matches(AttrKind::IntArray, a),
        AttrKind::Scalar => matches!(a, Attribute::Int(..) | Attribute::Float(..) | Attribute::Bool(_)),
        AttrKind::IntArray => a.as_array().is_some_and(|xs| xs.iter().all(|x| matches!(x, Attribute::Int(..) | Attribute::Sym(_)))),
        AttrKind::Array => matches!(a, Attribute::Array(_)),
        AttrKind::Dict => matches!(a, Attribute::Dict(_)),
        AttrKind::DType => a.as_dtype().is_some(),
        AttrKind::Type => matches!(a, Attribute::Type(_)),
        AttrKind::SymbolRef => matches!(a, Attribute::SymbolRef(_)),
        AttrKind::Resource => matches!(a, Attribute::DenseResource { .. }),
        AttrKind::Any => true,
    }
}

/// "an integer", "a float", …
pub fn with_article(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

pub fn kind_text(kind: AttrKind) -> String {
    match kind {
        AttrKind::Int => "an integer".into(),
        AttrKind::Float => "a float".into(),
        AttrKind::Number => "a number".into(),
        AttrKind::Bool => "a bool".into(),
        AttrKind::String => "a string".into(),
        AttrKind::Enum(options) => format!("one of \"{}\"", options.join("\", \"")),
        AttrKind::IntOrSym => "an integer or symbolic size".into(),
        AttrKind::IntOrList => "an integer or an array of integers".into(),
        AttrKind::Scalar => "an integer, float or bool".into(),
        AttrKind::IntArray => "an array of integers".into(),
        AttrKind::Array => "an array".into(),
        AttrKind::Dict => "a dictionary".into(),
        AttrKind::DType => "a dtype (f32, i64, …)".into(),
        AttrKind::Type => "a type".into(),
        AttrKind::SymbolRef => "a symbol reference (@name)".into(),
        AttrKind::Resource => "a dense_resource".into(),
        AttrKind::Any => "any attribute".into(),
    }
}

/// Counts and kinds of `types` against `slots` (`what`: "operand" or "result").
pub fn check_slots(what: &str, slots: &[Slot], types: &[&Type]) -> Result<(), String> {
    if !arity_ok(slots, types.len()) {
        return Err(format!("expects {} {what}(s), got {}", arity_text(slots), types.len()));
    }
    for (i, ty) in types.iter().enumerate() {
        let slot = slot_for(slots, types.len(), i).expect("arity checked");
        if !slot.kind.accepts(ty) {
            return Err(format!("{what} #{i} ('{}') must be {}, got {ty}", slot.name, slot.kind.describe()));
        }
    }
    Ok(())
}

/// The op's own attributes: required ones present, known ones of their kind.
/// Names the op does not declare are discardable annotations here.
pub fn check_attrs(def: &OpDef, attrs: &AttrDict) -> Result<(), String> {
    for a in def.attrs.iter().filter(|a| a.required) {
        if !attrs.contains(a.name) {
            return Err(format!("requires attribute '{}' ({})", a.name, kind_text(a.kind)));
        }
    }
    for (name, value) in attrs.iter() {
        if let Some(a) = def.attr_def(name) {
            if !attr_matches(a.kind, value) {
                return Err(format!("attribute '{name}' must be {}, got {}", kind_text(a.kind), with_article(value.kind_name())));
            }
        }
    }
    Ok(())
}

/// The shape rule: the result types `operands` and `attrs` give must be
/// compatible with the declared `results`.
pub fn check_results(def: &OpDef, operands: Vec<&Type>, attrs: &AttrDict, results: &[&Type]) -> Result<(), String> {
    let Some(infer) = def.infer else { return Ok(()) };
    let ctx = InferCtx { op_name: def.name, operands, attrs, num_results: results.len() };
    let inferred = infer(&ctx)?;
    if inferred.len() != results.len() {
        return Err(format!("produces {} result(s), but {} are declared", inferred.len(), results.len()));
    }
    for (i, (have, want)) in results.iter().zip(&inferred).enumerate() {
        if !want.compatible(have) {
            return Err(format!("result #{i} has type {have}, but its operands give {want}"));
        }
    }
    Ok(())
}

/// Everything above, for one call of `def`.
pub fn check_call(def: &OpDef, operands: Vec<&Type>, results: &[&Type], attrs: &AttrDict) -> Result<(), String> {
    check_slots("operand", def.operands, &operands)?;
    check_slots("result", def.results, results)?;
    check_attrs(def, attrs)?;
    check_results(def, operands, attrs, results)
}
