//! Source locations: where in the PyTorch program an op came from.
//!
//! Spelled as MLIR locations: `loc("transformer.h.0.attn"("modeling_gpt2.py":212:0))`
//! is the module path `transformer.h.0.attn` at line 212 of `modeling_gpt2.py`.

use crate::attrs::write_string_literal;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Location {
    #[default]
    Unknown,
    /// `"file":line:col`
    File { file: Arc<str>, line: u32, col: u32 },
    /// `"name"(child)`: a module path, optionally with where it was written.
    Name { name: Arc<str>, child: Option<Box<Location>> },
}

impl Location {
    pub fn file(file: &str, line: u32, col: u32) -> Location {
        Location::File { file: file.into(), line, col }
    }

    pub fn module(path: &str, child: Option<Location>) -> Location {
        Location::Name { name: path.into(), child: child.map(Box::new) }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Location::Unknown)
    }

    /// The PyTorch module path, if the location names one.
    pub fn module_path(&self) -> Option<&str> {
        match self {
            Location::Name { name, .. } => Some(name),
            _ => None,
        }
    }

    /// `loc(...)` as MLIR prints it.
    pub fn write(&self, out: &mut String) {
        out.push_str("loc(");
        self.write_inner(out);
        out.push(')');
    }

    fn write_inner(&self, out: &mut String) {
        match self {
            Location::Unknown => out.push_str("unknown"),
            Location::File { file, line, col } => {
                write_string_literal(out, file);
                out.push_str(&format!(":{line}:{col}"));
            }
            Location::Name { name, child } => {
                write_string_literal(out, name);
                if let Some(c) = child {
                    out.push('(');
                    c.write_inner(out);
                    out.push(')');
                }
            }
        }
    }
}

/// Human form for diagnostics: `transformer.h.0.attn (modeling_gpt2.py:212)`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Unknown => f.write_str("unknown location"),
            Location::File { file, line, .. } => write!(f, "{file}:{line}"),
            Location::Name { name, child: None } => write!(f, "module '{name}'"),
            Location::Name { name, child: Some(c) } => write!(f, "module '{name}' ({c})"),
        }
    }
}
