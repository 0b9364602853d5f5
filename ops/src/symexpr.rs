//! Symbolic integer expressions over shape symbols (`s0 * 12`, `s1 floordiv 2`).
//!
//! The operator set is MLIR's affine expressions, so the generic form prints an
//! expression as `affine_map<()[s0, s1] -> (s1 * 12)>` and upstream MLIR reads
//! it; the custom form prints the bare expression.

use std::fmt::{self, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    FloorDiv,
    CeilDiv,
    Mod,
}

impl BinOp {
    fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            _ => 2,
        }
    }

    fn spelling(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::FloorDiv => "floordiv",
            BinOp::CeilDiv => "ceildiv",
            BinOp::Mod => "mod",
        }
    }

    pub fn from_spelling(s: &str) -> Option<BinOp> {
        Some(match s {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "floordiv" => BinOp::FloorDiv,
            "ceildiv" => BinOp::CeilDiv,
            "mod" => BinOp::Mod,
            _ => return None,
        })
    }

    /// Applies the operator; `None` on division by zero or overflow.
    pub fn apply(self, a: i64, b: i64) -> Option<i64> {
        match self {
            BinOp::Add => a.checked_add(b),
            BinOp::Sub => a.checked_sub(b),
            BinOp::Mul => a.checked_mul(b),
            BinOp::FloorDiv if b != 0 => Some(a.div_euclid(b) - i64::from(b < 0 && a.rem_euclid(b) != 0)),
            BinOp::CeilDiv if b != 0 => {
                let q = a / b;
                Some(if (a % b != 0) && ((a < 0) == (b < 0)) { q + 1 } else { q })
            }
            BinOp::Mod if b != 0 => Some(a.rem_euclid(b)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SymExpr {
    Const(i64),
    Sym(u32),
    Bin(BinOp, Box<SymExpr>, Box<SymExpr>),
}

impl SymExpr {
    pub fn bin(op: BinOp, a: SymExpr, b: SymExpr) -> SymExpr {
        SymExpr::Bin(op, Box::new(a), Box::new(b))
    }

    pub fn as_const(&self) -> Option<i64> {
        match self {
            SymExpr::Const(c) => Some(*c),
            _ => None,
        }
    }

    pub fn as_sym(&self) -> Option<u32> {
        match self {
            SymExpr::Sym(s) => Some(*s),
            _ => None,
        }
    }

    /// Largest symbol index used, if any.
    pub fn max_symbol(&self) -> Option<u32> {
        match self {
            SymExpr::Const(_) => None,
            SymExpr::Sym(s) => Some(*s),
            SymExpr::Bin(_, a, b) => a.max_symbol().max(b.max_symbol()),
        }
    }

    /// Value under a symbol assignment.
    pub fn eval(&self, env: &dyn Fn(u32) -> Option<i64>) -> Option<i64> {
        match self {
            SymExpr::Const(c) => Some(*c),
            SymExpr::Sym(s) => env(*s),
            SymExpr::Bin(op, a, b) => op.apply(a.eval(env)?, b.eval(env)?),
        }
    }

    /// Folds constants and removes identities. Never changes the value.
    pub fn simplify(&self) -> SymExpr {
        let SymExpr::Bin(op, a, b) = self else { return self.clone() };
        let (a, b) = (a.simplify(), b.simplify());
        if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
            if let Some(v) = op.apply(x, y) {
                return SymExpr::Const(v);
            }
        }
        match (op, a.as_const(), b.as_const()) {
            (BinOp::Add | BinOp::Sub, _, Some(0)) => return a,
            (BinOp::Add, Some(0), _) => return b,
            (BinOp::Mul | BinOp::FloorDiv | BinOp::CeilDiv, _, Some(1)) => return a,
            (BinOp::Mul, Some(1), _) => return b,
            (BinOp::Mul, _, Some(0)) | (BinOp::Mul, Some(0), _) => return SymExpr::Const(0),
            (BinOp::Mod, _, Some(1)) => return SymExpr::Const(0),
            _ => {}
        }
        if let SymExpr::Bin(inner, x, c1) = &a {
            if let (Some(c1), Some(c2)) = (c1.as_const(), b.as_const()) {
                match (inner, op) {
                    // (x * c1) * c2 → x * (c1 c2); (x + c1) + c2 → x + (c1 + c2)
                    (BinOp::Mul, BinOp::Mul) | (BinOp::Add, BinOp::Add) => {
                        if let Some(c) = op.apply(c1, c2) {
                            return SymExpr::bin(*op, (**x).clone(), SymExpr::Const(c)).simplify();
                        }
                    }
                    // (x * c1) floordiv c2 → x * (c1 / c2) when c2 divides c1
                    (BinOp::Mul, BinOp::FloorDiv | BinOp::CeilDiv) if c2 > 0 && c1 % c2 == 0 => {
                        return SymExpr::bin(BinOp::Mul, (**x).clone(), SymExpr::Const(c1 / c2))
                            .simplify();
                    }
                    _ => {}
                }
            }
        }
        // c * x → x * c: one canonical order for a constant factor.
        if *op == BinOp::Mul && a.as_const().is_some() && b.as_const().is_none() {
            return SymExpr::bin(BinOp::Mul, b, a).simplify();
        }
        SymExpr::bin(*op, a, b)
    }

    fn precedence(&self) -> u8 {
        match self {
            SymExpr::Bin(op, ..) => op.precedence(),
            SymExpr::Const(c) if *c < 0 => 2,
            _ => 3,
        }
    }

    /// The bare expression: `s0 * 12 + 1`.
    pub fn write(&self, out: &mut String) {
        match self {
            SymExpr::Const(c) => {
                let _ = write!(out, "{c}");
            }
            SymExpr::Sym(s) => {
                let _ = write!(out, "s{s}");
            }
            SymExpr::Bin(op, a, b) => {
                let p = op.precedence();
                let left_parens = a.precedence() < p;
                // Operators are left-associative, so an equal-precedence right
                // operand needs parentheses.
                let right_parens = b.precedence() <= p;
                write_maybe_parens(out, a, left_parens);
                let _ = write!(out, " {} ", op.spelling());
                write_maybe_parens(out, b, right_parens);
            }
        }
    }

    /// MLIR generic spelling: `affine_map<()[s0, s1] -> (expr)>`.
    pub fn write_affine_map(&self, out: &mut String) {
        out.push_str("affine_map<()[");
        if let Some(max) = self.max_symbol() {
            for i in 0..=max {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "s{i}");
            }
        }
        out.push_str("] -> (");
        self.write(out);
        out.push_str(")>");
    }
}

fn write_maybe_parens(out: &mut String, e: &SymExpr, parens: bool) {
    if parens {
        out.push('(');
    }
    e.write(out);
    if parens {
        out.push(')');
    }
}

impl fmt::Display for SymExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(i: u32) -> SymExpr {
        SymExpr::Sym(i)
    }
    fn c(v: i64) -> SymExpr {
        SymExpr::Const(v)
    }

    #[test]
    fn simplify_folds_constants_and_identities() {
        let e = SymExpr::bin(BinOp::FloorDiv, SymExpr::bin(BinOp::Mul, s(0), c(12)), c(12));
        assert_eq!(e.simplify(), s(0));
        let e = SymExpr::bin(BinOp::Mul, c(2), SymExpr::bin(BinOp::Add, s(1), c(0)));
        assert_eq!(e.simplify().to_string(), "s1 * 2");
        assert_eq!(SymExpr::bin(BinOp::Mod, c(7), c(3)).simplify(), c(1));
    }

    #[test]
    fn printing_keeps_grouping() {
        let e = SymExpr::bin(BinOp::Sub, s(0), SymExpr::bin(BinOp::Add, s(1), c(1)));
        assert_eq!(e.to_string(), "s0 - (s1 + 1)");
        let mut m = String::new();
        e.write_affine_map(&mut m);
        assert_eq!(m, "affine_map<()[s0, s1] -> (s0 - (s1 + 1))>");
    }

    #[test]
    fn floor_and_ceil_division_round_correctly() {
        assert_eq!(BinOp::FloorDiv.apply(-7, 2), Some(-4));
        assert_eq!(BinOp::CeilDiv.apply(7, 2), Some(4));
        assert_eq!(BinOp::CeilDiv.apply(-7, 2), Some(-3));
        assert_eq!(BinOp::Mod.apply(-7, 3), Some(2));
        assert_eq!(BinOp::FloorDiv.apply(1, 0), None);
    }
}
