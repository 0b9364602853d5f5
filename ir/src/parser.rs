//! Reads both text forms (custom and MLIR generic), even mixed in one file.
//!
//! A hand-written recursive-descent parser over bytes: one pass, no token
//! buffer, line/column tracked while skipping whitespace. Every error is a
//! located diagnostic; nesting depth is bounded so hostile input cannot
//! overflow the stack. Values must be defined before use (graphs are DAGs).

use crate::attrs::{AttrDict, Attribute};
use crate::diagnostics::{Diagnostics, SrcPos};
use crate::dialects::{self, OpDef, Traits};
use crate::location::Location;
use crate::module::{BlockId, Module, OpId, ValueId};
use crate::symexpr::{BinOp, SymExpr};
use crate::types::{DType, Dim, TensorType, Type};
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::sync::Arc;

type PResult<T> = Result<T, Diagnostics>;

const MAX_DEPTH: usize = 200;

/// Parses a module from text. `filename` is used in diagnostics.
pub fn parse_module(src: &str, filename: &str) -> PResult<Module> {
    parse_module_at(src, filename, 0)
}

/// Like [`parse_module`], for a chunk starting `line_offset` lines into the
/// file (`--split-input-file` keeps diagnostics pointing at the real line).
pub fn parse_module_at(src: &str, filename: &str, line_offset: u32) -> PResult<Module> {
    let mut p = Parser {
        src: src.as_bytes(),
        pos: 0,
        line: 1 + line_offset,
        line_start: 0,
        file: filename,
        module: Module::new(None),
        scopes: vec![HashMap::default()],
        aliases: HashMap::default(),
        strings: HashMap::default(),
        depth: 0,
    };
    p.module.file = filename.to_string();
    p.parse_top()?;
    Ok(p.module)
}

/// Parses a symbolic size in Genie's syntax (`s0 * 12 + 1`).
pub fn parse_sym_expr(src: &str) -> Result<SymExpr, String> {
    let mut p = Parser {
        src: src.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        file: "<size>",
        module: Module::new(None),
        scopes: vec![HashMap::default()],
        aliases: HashMap::default(),
        strings: HashMap::default(),
        depth: 0,
    };
    let e = p.sym_expr(&|name: &str| name.strip_prefix('s').and_then(|n| n.parse().ok())).map_err(|d| d.to_string())?;
    if !p.at_eof() {
        return Err(format!("unexpected text after the size expression '{src}'"));
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    file: &'a str,
    module: Module,
    /// SSA names visible at the current point; one map per isolated region.
    /// Each name maps to its first value and how many consecutive values
    /// it covers (`%0:3` names three results).
    scopes: Vec<HashMap<&'a str, (ValueId, u32)>>,
    /// Interned location strings: every op of a module shares a few paths.
    strings: HashMap<Cow<'a, str>, Arc<str>>,
    /// `#name = attr` aliases.
    aliases: HashMap<String, Attribute>,
    depth: usize,
}

fn is_id_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.'
}

impl<'a> Parser<'a> {
    // ----- low level ---------------------------------------------------------

    fn here(&self) -> SrcPos {
        SrcPos { line: self.line, col: (self.pos - self.line_start) as u32 + 1 }
    }

    fn err_at<T>(&self, pos: SrcPos, msg: impl Into<String>) -> PResult<T> {
        Err(Diagnostics::error(self.file, Some(pos), msg))
    }

    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        self.err_at(self.here(), msg)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.src.get(self.pos + n).copied()
    }

    fn rest(&self) -> &'a [u8] {
        &self.src[self.pos..]
    }

    /// Skips whitespace and `//` comments, tracking lines.
    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'/' if self.peek_at(1) == Some(b'/') => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn at_eof(&mut self) -> bool {
        self.ws();
        self.pos >= self.src.len()
    }

    /// Consumes `s` after whitespace if it is next.
    fn eat(&mut self, s: &str) -> bool {
        self.ws();
        if self.rest().starts_with(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Consumes keyword `kw` only when not followed by more identifier chars.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let r = self.rest();
        if r.starts_with(kw.as_bytes()) && !r.get(kw.len()).is_some_and(|&c| is_id_char(c)) {
            self.pos += kw.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str) -> PResult<()> {
        if self.eat(s) {
            Ok(())
        } else {
            let found = self.describe_next();
            self.err(format!("expected '{s}', found {found}"))
        }
    }

    fn describe_next(&mut self) -> String {
        self.ws();
        match self.peek() {
            None => "end of input".to_string(),
            Some(_) => {
                let end = self.rest().iter().position(|&c| c.is_ascii_whitespace()).unwrap_or(self.rest().len()).min(24);
                format!("'{}'", String::from_utf8_lossy(&self.rest()[..end.max(1)]))
            }
        }
    }

    /// Runs one level of recursive descent, refusing to nest past MAX_DEPTH.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// A bare identifier (letters, digits, `_`, `$`, `.`).
    fn identifier(&mut self) -> PResult<&'a str> {
        self.ws();
        let start = self.pos;
        if !self.peek().is_some_and(is_id_start) {
            let found = self.describe_next();
            return self.err(format!("expected an identifier, found {found}"));
        }
        while self.peek().is_some_and(is_id_char) {
            self.pos += 1;
        }
        Ok(std::str::from_utf8(&self.src[start..self.pos]).expect("identifier bytes are ASCII"))
    }

    fn string_literal(&mut self) -> PResult<String> {
        self.string_cow().map(Cow::into_owned)
    }

    /// A string literal, borrowed from the input when it has no escapes.
    fn string_cow(&mut self) -> PResult<Cow<'a, str>> {
        self.ws();
        let start = self.here();
        if self.peek() != Some(b'"') {
            let found = self.describe_next();
            return self.err(format!("expected a string, found {found}"));
        }
        self.pos += 1;
        let begin = self.pos;
        let src: &'a [u8] = self.src;
        while let Some(c) = self.peek() {
            match c {
                b'"' => {
                    self.pos += 1;
                    return match std::str::from_utf8(&src[begin..self.pos - 1]) {
                        Ok(s) => Ok(Cow::Borrowed(s)),
                        Err(_) => self.err_at(start, "string is not valid UTF-8"),
                    };
                }
                b'\\' | b'\n' => break,
                _ => self.pos += 1,
            }
        }
        let mut bytes = src[begin..self.pos].to_vec();
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.err_at(start, "unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let c = self.peek_at(1);
                    self.pos += 2;
                    match c {
                        Some(b'"') => bytes.push(b'"'),
                        Some(b'\\') => bytes.push(b'\\'),
                        Some(b'n') => bytes.push(b'\n'),
                        Some(b't') => bytes.push(b'\t'),
                        Some(h) if h.is_ascii_hexdigit() && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) => {
                            let l = self.peek().unwrap_or(b'0');
                            self.pos += 1;
                            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                            bytes.push(hex(h) * 16 + hex(l));
                        }
                        _ => return self.err("invalid escape in string"),
                    }
                }
                Some(c) => {
                    bytes.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(bytes).map(Cow::Owned).or_else(|_| self.err_at(start, "string is not valid UTF-8"))
    }

    fn intern(&mut self, s: Cow<'a, str>) -> Arc<str> {
        if let Some(a) = self.strings.get(&s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s.as_ref());
        self.strings.insert(s, a.clone());
        a
    }

    /// `@name` or `@"name"`.
    fn symbol_name(&mut self) -> PResult<String> {
        self.expect("@")?;
        if self.peek() == Some(b'"') {
            self.string_literal()
        } else {
            let at = self.here();
            if !self.peek().is_some_and(is_id_start) {
                return self.err_at(at, "expected a symbol name after '@'");
            }
            Ok(self.identifier()?.to_string())
        }
    }

    fn integer(&mut self) -> PResult<i64> {
        self.ws();
        let at = self.here();
        let neg = self.eat("-");
        self.ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            let found = self.describe_next();
            return self.err_at(at, format!("expected an integer, found {found}"));
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).expect("digits are ASCII");
        let v: i64 = match text.parse::<i128>() {
            Ok(v) => {
                let v = if neg { -v } else { v };
                match i64::try_from(v) {
                    Ok(v) => v,
                    Err(_) => return self.err_at(at, format!("integer {text} does not fit in 64 bits")),
                }
            }
            Err(_) => return self.err_at(at, format!("integer {text} does not fit in 64 bits")),
        };
        Ok(v)
    }

    // ----- SSA names -----------------------------------------------------------

    /// `%name` (without `#n`).
    fn value_name(&mut self) -> PResult<&'a str> {
        self.expect("%")?;
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.' || c == b'-') {
            self.pos += 1;
        }
        if start == self.pos {
            return self.err("expected a value name after '%'");
        }
        let src: &'a [u8] = self.src;
        Ok(std::str::from_utf8(&src[start..self.pos]).expect("name bytes are ASCII"))
    }

    fn value_use(&mut self) -> PResult<ValueId> {
        self.ws();
        let at = self.here();
        let name = self.value_name()?;
        let index = if self.peek() == Some(b'#') {
            self.pos += 1;
            self.integer()?
        } else {
            0
        };
        let scope = self.scopes.last().expect("a scope is always open");
        let Some(&(first, count)) = scope.get(name) else {
            return self.err_at(at, format!("use of undefined value '%{name}'"));
        };
        if !(0..count as i64).contains(&index) {
            return self.err_at(at, format!("'%{name}' has {count} result(s); #{index} is out of range"));
        }
        Ok(ValueId(first.0 + index as u32))
    }

    /// Names `count` consecutive values starting at `first`.
    fn define(&mut self, name: &'a str, first: ValueId, count: u32, at: SrcPos) -> PResult<()> {
        let scope = self.scopes.last_mut().expect("a scope is always open");
        if scope.insert(name, (first, count)).is_some() {
            return self.err_at(at, format!("redefinition of SSA value '%{name}'"));
        }
        Ok(())
    }

    // ----- types ---------------------------------------------------------------

    fn parse_type(&mut self) -> PResult<Type> {
        self.nested(Self::parse_type_inner)
    }

    fn parse_type_inner(&mut self) -> PResult<Type> {
        self.ws();
        let at = self.here();
        if self.eat("(") {
            let ins = if self.eat(")") { vec![] } else { self.type_list_until(")")? };
            self.expect("->")?;
            let outs = self.result_types()?;
            return Ok(Type::Function(ins, outs));
        }
        if self.eat("!sem.list<") {
            let t = self.parse_type()?;
            self.expect(">")?;
            return Ok(Type::List(Box::new(t)));
        }
        if self.eat("!exec.future<") {
            let t = self.parse_type()?;
            self.expect(">")?;
            return Ok(Type::Future(Box::new(t)));
        }
        if self.peek() == Some(b'!') {
            return self.err_at(at, "unknown dialect type; Genie knows !sem.list<T> and !exec.future<T>");
        }
        let id = self.identifier()?;
        match id {
            "tensor" => self.tensor_type_body().map(Type::Tensor),
            "tuple" => {
                self.expect("<")?;
                let elems = if self.eat(">") { vec![] } else { self.type_list_until(">")? };
                Ok(Type::Tuple(elems))
            }
            "none" => Ok(Type::None),
            _ => match DType::from_mlir_name(id) {
                Some(d) => Ok(Type::Scalar(d)),
                None => self.err_at(at, format!("unknown type '{id}'")),
            },
        }
    }

    /// `T, T, …` followed by `close` (consumed).
    fn type_list_until(&mut self, close: &str) -> PResult<Vec<Type>> {
        let mut tys = vec![self.parse_type()?];
        while self.eat(",") {
            tys.push(self.parse_type()?);
        }
        self.expect(close)?;
        Ok(tys)
    }

    /// Result side of a function type: `T` or `(T, …)`.
    fn result_types(&mut self) -> PResult<Vec<Type>> {
        self.ws();
        if self.peek() == Some(b'(') {
            // `(…)` is a result list unless it is itself a function type `(…) -> …`.
            let save = (self.pos, self.line, self.line_start);
            self.pos += 1;
            let list = if self.eat(")") { vec![] } else { self.type_list_until(")")? };
            if self.eat("->") {
                (self.pos, self.line, self.line_start) = save;
                return Ok(vec![self.parse_type()?]);
            }
            return Ok(list);
        }
        Ok(vec![self.parse_type()?])
    }

    /// After `tensor`: `<4x?xs0xf32, "enc">`.
    fn tensor_type_body(&mut self) -> PResult<TensorType> {
        self.expect("<")?;
        let mut dims = Vec::new();
        loop {
            self.ws();
            let at = self.here();
            match self.peek() {
                Some(b'?') => {
                    self.pos += 1;
                    dims.push(Dim::Dynamic);
                }
                Some(c) if c.is_ascii_digit() => {
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    let text = std::str::from_utf8(&self.src[start..self.pos]).expect("digits");
                    match text.parse::<i64>() {
                        Ok(n) => dims.push(Dim::Static(n)),
                        Err(_) => return self.err_at(at, format!("dimension {text} is too large")),
                    }
                }
                Some(b's') if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                    self.pos += 1;
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    let text = std::str::from_utf8(&self.src[start..self.pos]).expect("digits");
                    match text.parse::<u32>() {
                        Ok(n) => dims.push(Dim::Sym(n)),
                        Err(_) => return self.err_at(at, format!("symbol s{text} is out of range")),
                    }
                }
                _ => break,
            }
            if self.peek() != Some(b'x') {
                return self.err("expected 'x' after a tensor dimension");
            }
            self.pos += 1;
        }
        let at = self.here();
        let id = self.identifier()?;
        let Some(dtype) = DType::from_mlir_name(id) else {
            return self.err_at(at, format!("unknown element type '{id}' (expected one of f64, f32, f16, bf16, i64, i32, i16, i8, ui8, i1)"));
        };
        if self.eat(",") {
            let at = self.here();
            let enc = self.string_literal()?;
            let dynamic: Vec<usize> = dims.iter().enumerate().filter(|(_, d)| **d == Dim::Dynamic).map(|(i, _)| i).collect();
            let names: Vec<&str> = enc.split(',').map(str::trim).collect();
            if names.len() != dynamic.len() {
                return self.err_at(at, format!("encoding names {} symbol(s) but the tensor has {} dynamic dim(s)", names.len(), dynamic.len()));
            }
            for (&i, name) in dynamic.iter().zip(names) {
                if name == "_" {
                    continue;
                }
                match name.strip_prefix('s').and_then(|n| n.parse::<u32>().ok()) {
                    Some(s) => dims[i] = Dim::Sym(s),
                    None => return self.err_at(at, format!("invalid symbol '{name}' in tensor encoding (expected sN or _)")),
                }
            }
        }
        self.expect(">")?;
        Ok(TensorType::new(dims, dtype))
    }

    // ----- attributes --------------------------------------------------------------

    fn attr_dict(&mut self) -> PResult<AttrDict> {
        self.expect("{")?;
        let mut d = AttrDict::new();
        if self.eat("}") {
            return Ok(d);
        }
        loop {
            self.ws();
            let at = self.here();
            let key: Cow<'static, str> = if self.peek() == Some(b'"') {
                Cow::Owned(self.string_literal()?)
            } else {
                let id = self.identifier()?;
                dialects::known_attr_name(id).map_or_else(|| Cow::Owned(id.to_string()), Cow::Borrowed)
            };
            let value = if self.eat("=") { self.attribute()? } else { Attribute::Unit };
            if d.set(key.clone(), value).is_some() {
                return self.err_at(at, format!("duplicate attribute '{key}'"));
            }
            if self.eat("}") {
                return Ok(d);
            }
            self.expect(",")?;
        }
    }

    fn attribute(&mut self) -> PResult<Attribute> {
        self.nested(Self::attribute_inner)
    }

    fn attribute_inner(&mut self) -> PResult<Attribute> {
        self.ws();
        let at = self.here();
        match self.peek() {
            None => self.err("expected an attribute, found end of input"),
            Some(b'"') => Ok(Attribute::String(self.string_literal()?)),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.attribute()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Attribute::Array(items))
            }
            Some(b'{') => Ok(Attribute::Dict(self.attr_dict()?)),
            Some(b'@') => Ok(Attribute::SymbolRef(self.symbol_name()?)),
            Some(b'#') => {
                self.pos += 1;
                let name = self.identifier()?;
                match self.aliases.get(name) {
                    Some(a) => Ok(a.clone()),
                    None => self.err_at(at, format!("undefined attribute alias '#{name}'")),
                }
            }
            Some(b'!') => Ok(Attribute::ty(self.parse_type()?)),
            Some(b'(') => {
                if self.paren_starts_expr() {
                    self.sym_expr_attr()
                } else {
                    Ok(Attribute::ty(self.parse_type()?))
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'-' => self.number_attr(),
            Some(b's') if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => self.sym_expr_attr(),
            Some(_) => {
                let save = (self.pos, self.line, self.line_start);
                let id = self.identifier()?;
                match id {
                    "true" => Ok(Attribute::Bool(true)),
                    "false" => Ok(Attribute::Bool(false)),
                    "unit" => Ok(Attribute::Unit),
                    "dense_resource" => {
                        self.expect("<")?;
                        let handle = self.identifier()?.to_string();
                        self.expect(">")?;
                        self.expect(":")?;
                        match self.parse_type()? {
                            Type::Tensor(ty) => Ok(Attribute::DenseResource { handle, ty: Box::new(ty) }),
                            other => self.err_at(at, format!("dense_resource needs a tensor type, got {other}")),
                        }
                    }
                    "affine_map" => self.affine_map(),
                    "tensor" | "tuple" | "none" => {
                        (self.pos, self.line, self.line_start) = save;
                        Ok(Attribute::ty(self.parse_type()?))
                    }
                    _ if DType::from_mlir_name(id).is_some() => Ok(Attribute::ty(Type::Scalar(DType::from_mlir_name(id).expect("checked")))),
                    _ => self.err_at(at, format!("unknown attribute '{id}'")),
                }
            }
        }
    }

    /// Whether a `(` in attribute position opens an expression, not a type.
    fn paren_starts_expr(&self) -> bool {
        let mut i = self.pos + 1;
        while self.src.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        match self.src.get(i) {
            Some(c) if c.is_ascii_digit() || *c == b'-' || *c == b'(' => true,
            Some(b's') => self.src.get(i + 1).is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        }
    }

    /// A number, optionally typed (`3`, `1.5 : f32`, `0x7F800000 : f32`), or a
    /// symbolic expression starting with a number (`2 * s0`).
    fn number_attr(&mut self) -> PResult<Attribute> {
        let at = self.here();
        let start = self.pos;
        let neg = self.eat("-");
        self.ws();
        let hex = self.rest().starts_with(b"0x");
        let digits_start = self.pos;
        if hex {
            self.pos += 2;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
        } else {
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        let mut is_float = false;
        if !hex && self.peek() == Some(b'.') {
            is_float = true;
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.pos += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
        if self.pos == digits_start {
            return self.err_at(at, "expected a number");
        }
        let text = std::str::from_utf8(&self.src[digits_start..self.pos]).expect("ASCII").to_string();
        // An integer followed by an affine operator starts an expression.
        if !is_float && !hex && self.next_is_expr_operator() {
            self.pos = start;
            return self.sym_expr_attr();
        }
        let ty = if self.eat(":") {
            let tat = self.here();
            match self.parse_type()? {
                Type::Scalar(d) => Some(d),
                other => return self.err_at(tat, format!("a number's type must be a scalar type, got {other}")),
            }
        } else {
            None
        };
        if hex {
            if text.len() == 2 {
                return self.err_at(at, "expected hex digits after '0x'");
            }
            let bits = u64::from_str_radix(&text[2..], 16).or_else(|_| self.err_at(at, "hex literal does not fit in 64 bits"))?;
            if let Some(d) = ty.filter(|d| !d.is_float()) {
                return self.typed_int(bits as i64, d, at);
            }
            return Ok(match ty {
                Some(DType::F32) => Attribute::Float(f32::from_bits(bits as u32) as f64, DType::F32),
                Some(DType::F64) => Attribute::Float(f64::from_bits(bits), DType::F64),
                Some(d @ DType::BF16) => Attribute::Float(f32::from_bits((bits as u32) << 16) as f64, d),
                Some(d @ DType::F16) => Attribute::Float(f16_bits_to_f64(bits as u16), d),
                _ => Attribute::Int(bits as i64, DType::I64),
            });
        }
        if is_float || ty.is_some_and(DType::is_float) {
            let v: f64 = text.parse().or_else(|_| self.err_at(at, format!("invalid float '{text}'")))?;
            let v = if neg { -v } else { v };
            let d = ty.unwrap_or(DType::F64);
            if !d.is_float() {
                return self.err_at(at, format!("float literal with integer type {d}"));
            }
            return Ok(Attribute::Float(v, d));
        }
        let v: i128 = text.parse().or_else(|_| self.err_at(at, format!("integer {text} is too large")))?;
        let v = if neg { -v } else { v };
        let v = i64::try_from(v).or_else(|_| self.err_at(at, format!("integer {text} does not fit in 64 bits")))?;
        self.typed_int(v, ty.unwrap_or(DType::I64), at)
    }

    /// An integer of type `d`, range-checked like MLIR (`300 : i8` is an error).
    fn typed_int(&self, v: i64, d: DType, at: SrcPos) -> PResult<Attribute> {
        let (lo, hi): (i64, i64) = match d {
            DType::I1 => (0, 1),
            DType::I8 => (i8::MIN.into(), i8::MAX.into()),
            DType::U8 => (0, u8::MAX.into()),
            DType::I16 => (i16::MIN.into(), i16::MAX.into()),
            DType::I32 => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        };
        if !(lo..=hi).contains(&v) {
            return self.err_at(at, format!("integer {v} does not fit in {d}"));
        }
        Ok(if d == DType::I1 { Attribute::Bool(v != 0) } else { Attribute::Int(v, d) })
    }

    fn next_is_expr_operator(&self) -> bool {
        let mut i = self.pos;
        while self.src.get(i).is_some_and(|c| *c == b' ' || *c == b'\t') {
            i += 1;
        }
        let r = &self.src[i.min(self.src.len())..];
        r.starts_with(b"*")
            || r.starts_with(b"+")
            || (r.starts_with(b"- ") || r.starts_with(b"-s"))
            || r.starts_with(b"floordiv")
            || r.starts_with(b"ceildiv")
            || r.starts_with(b"mod ")
    }

    fn sym_expr_attr(&mut self) -> PResult<Attribute> {
        let e = self.sym_expr(&|name: &str| name.strip_prefix('s').and_then(|n| n.parse().ok()))?;
        Ok(Attribute::Sym(e))
    }

    /// `affine_map<()[s0, s1] -> (expr)>` with exactly one result.
    fn affine_map(&mut self) -> PResult<Attribute> {
        let at = self.here();
        self.expect("<")?;
        self.expect("(")?;
        if !self.eat(")") {
            return self.err_at(at, "symbolic sizes use symbols only: affine_map<()[s0, …] -> (expr)>");
        }
        let mut names: Vec<String> = Vec::new();
        if self.eat("[") && !self.eat("]") {
            loop {
                names.push(self.identifier()?.to_string());
                if self.eat("]") {
                    break;
                }
                self.expect(",")?;
            }
        }
        self.expect("->")?;
        self.expect("(")?;
        let lookup = |n: &str| names.iter().position(|x| x == n).map(|i| i as u32);
        let e = self.sym_expr(&lookup)?;
        self.expect(")")?;
        self.expect(">")?;
        Ok(Attribute::Sym(e))
    }

    fn sym_expr(&mut self, sym: &dyn Fn(&str) -> Option<u32>) -> PResult<SymExpr> {
        self.nested(|p| p.sym_sum(sym))
    }

    fn sym_sum(&mut self, sym: &dyn Fn(&str) -> Option<u32>) -> PResult<SymExpr> {
        let mut lhs = self.sym_term(sym)?;
        loop {
            let op = if self.eat("+") {
                BinOp::Add
            } else if self.next_is_minus_operator() {
                self.expect("-")?;
                BinOp::Sub
            } else {
                break;
            };
            let rhs = self.sym_term(sym)?;
            lhs = SymExpr::bin(op, lhs, rhs);
        }
        Ok(lhs)
    }

    fn next_is_minus_operator(&mut self) -> bool {
        self.ws();
        self.peek() == Some(b'-') && self.peek_at(1) != Some(b'>')
    }

    fn sym_term(&mut self, sym: &dyn Fn(&str) -> Option<u32>) -> PResult<SymExpr> {
        let mut lhs = self.sym_factor(sym)?;
        loop {
            let op = if self.eat("*") {
                BinOp::Mul
            } else if self.eat_keyword("floordiv") {
                BinOp::FloorDiv
            } else if self.eat_keyword("ceildiv") {
                BinOp::CeilDiv
            } else if self.eat_keyword("mod") {
                BinOp::Mod
            } else {
                break;
            };
            let rhs = self.sym_factor(sym)?;
            lhs = SymExpr::bin(op, lhs, rhs);
        }
        Ok(lhs)
    }

    fn sym_factor(&mut self, sym: &dyn Fn(&str) -> Option<u32>) -> PResult<SymExpr> {
        self.ws();
        let at = self.here();
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let e = self.sym_expr(sym)?;
                self.expect(")")?;
                Ok(e)
            }
            Some(b'-') => {
                self.pos += 1;
                self.ws();
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    Ok(SymExpr::Const(-self.integer()?))
                } else {
                    let f = self.sym_factor(sym)?;
                    Ok(SymExpr::bin(BinOp::Mul, f, SymExpr::Const(-1)))
                }
            }
            Some(c) if c.is_ascii_digit() => Ok(SymExpr::Const(self.integer()?)),
            _ => {
                let name = self.identifier()?;
                match sym(name) {
                    Some(s) => Ok(SymExpr::Sym(s)),
                    None => self.err_at(at, format!("unknown symbol '{name}' in size expression")),
                }
            }
        }
    }

    // ----- locations ---------------------------------------------------------------

    fn opt_location(&mut self) -> PResult<Location> {
        if !self.eat_keyword("loc") {
            return Ok(Location::Unknown);
        }
        self.expect("(")?;
        let l = self.location_inner()?;
        self.expect(")")?;
        Ok(l)
    }

    fn location_inner(&mut self) -> PResult<Location> {
        self.nested(Self::location_body)
    }

    fn location_body(&mut self) -> PResult<Location> {
        self.ws();
        let at = self.here();
        let l = if self.eat_keyword("unknown") {
            Location::Unknown
        } else if self.peek() == Some(b'"') {
            let s = self.string_cow()?;
            let s = self.intern(s);
            if self.eat(":") {
                let line = self.integer()?;
                self.expect(":")?;
                let col = self.integer()?;
                let (Ok(line), Ok(col)) = (u32::try_from(line), u32::try_from(col)) else {
                    return self.err_at(at, "location line/column out of range");
                };
                Location::File { file: s, line, col }
            } else if self.eat("(") {
                let child = self.location_inner()?;
                self.expect(")")?;
                Location::Name { name: s, child: Some(Box::new(child)) }
            } else {
                Location::Name { name: s, child: None }
            }
        } else {
            return self.err_at(at, "unsupported location: expected unknown, \"file\":line:col or \"name\"(…)");
        };
        Ok(l)
    }

    // ----- ops ---------------------------------------------------------------------

    fn parse_top(&mut self) -> PResult<()> {
        loop {
            self.ws();
            // Attribute aliases and resource blobs may surround the module.
            if self.peek() == Some(b'#') && self.peek_at(1) != Some(b'-') {
                self.alias_definition()?;
                continue;
            }
            if self.rest().starts_with(b"{-#") {
                self.skip_resource_section()?;
                continue;
            }
            break;
        }
        let body = self.module.body();
        if self.eat_keyword("module") {
            self.module.src = Some(self.here());
            self.ws();
            if self.peek() == Some(b'@') {
                self.module.name = Some(self.symbol_name()?);
            }
            if self.eat_keyword("attributes") {
                self.module.attrs = self.attr_dict()?;
            }
            self.expect("{")?;
            self.ops_until_brace(body)?;
        } else if self.rest().starts_with(b"\"builtin.module\"") {
            self.module.src = Some(self.here());
            self.pos += "\"builtin.module\"".len();
            self.expect("(")?;
            self.expect(")")?;
            // mlir-opt prints inherent attributes as properties before the region.
            self.module_properties()?;
            self.expect("(")?;
            self.expect("{")?;
            self.ws();
            if self.peek() == Some(b'^') {
                self.block_label(body)?;
            }
            self.ops_until_brace(body)?;
            self.expect(")")?;
            self.module_properties()?;
            if self.peek() == Some(b'{') {
                let more = self.attr_dict()?;
                self.module.attrs.merge(more);
            }
            if let Some(Attribute::String(name)) = self.module.attrs.remove("sym_name") {
                self.module.name = Some(name);
            }
            self.expect(":")?;
            let at = self.here();
            if self.parse_type()? != Type::Function(vec![], vec![]) {
                return self.err_at(at, "builtin.module has type () -> ()");
            }
            self.opt_location()?;
        } else {
            // A bare list of ops is an implicit module.
            while !self.at_eof() {
                if self.rest().starts_with(b"{-#") {
                    break;
                }
                self.op(body)?;
            }
        }
        loop {
            if self.at_eof() {
                return Ok(());
            }
            if self.rest().starts_with(b"{-#") {
                self.skip_resource_section()?;
                continue;
            }
            let found = self.describe_next();
            return self.err(format!("expected end of input after the module, found {found}"));
        }
    }

    /// Optional `<{…}>` properties of a generic `builtin.module`.
    fn module_properties(&mut self) -> PResult<()> {
        self.ws();
        if self.rest().starts_with(b"<{") {
            self.pos += 1;
            let props = self.attr_dict()?;
            self.expect(">")?;
            self.module.attrs.merge(props);
        }
        Ok(())
    }

    fn alias_definition(&mut self) -> PResult<()> {
        self.expect("#")?;
        let name = self.identifier()?.to_string();
        self.expect("=")?;
        let a = self.attribute()?;
        self.aliases.insert(name, a);
        Ok(())
    }

    /// `{-# … #-}`: resource blobs. Genie keeps dense data outside the IR, so
    /// the section is skipped.
    fn skip_resource_section(&mut self) -> PResult<()> {
        let at = self.here();
        while self.pos < self.src.len() {
            if self.rest().starts_with(b"#-}") {
                self.pos += 3;
                return Ok(());
            }
            if self.peek() == Some(b'\n') {
                self.line += 1;
                self.line_start = self.pos + 1;
            }
            self.pos += 1;
        }
        self.err_at(at, "unterminated '{-#' resource section")
    }

    /// Ops until the closing `}` of a block (consumed).
    fn ops_until_brace(&mut self, block: BlockId) -> PResult<()> {
        loop {
            if self.eat("}") {
                return Ok(());
            }
            if self.at_eof() {
                return self.err("expected '}' before end of input");
            }
            self.op(block)?;
        }
    }

    /// `^bb0(%a: T, …):` — defines the block's arguments.
    fn block_label(&mut self, block: BlockId) -> PResult<()> {
        let at = self.here();
        self.expect("^")?;
        self.identifier().or_else(|_| self.err_at(at, "expected a block label"))?;
        if self.eat("(") && !self.eat(")") {
            loop {
                self.ws();
                let vat = self.here();
                let name = self.value_name()?;
                self.expect(":")?;
                let ty = self.parse_type()?;
                let v = self.module.add_block_arg(block, ty);
                self.define(name, v, 1, vat)?;
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        self.expect(":")?;
        self.ws();
        if self.peek() == Some(b'^') {
            return self.err("Genie regions have a single block");
        }
        Ok(())
    }

    fn op(&mut self, block: BlockId) -> PResult<()> {
        self.nested(|p| p.op_inner(block))
    }

    fn op_inner(&mut self, block: BlockId) -> PResult<()> {
        self.ws();
        // Results: `%name` or `%name:N`, comma separated, then `=`.
        let mut results: Vec<(&'a str, usize, SrcPos)> = Vec::new();
        if self.peek() == Some(b'%') {
            loop {
                self.ws();
                let at = self.here();
                let name = self.value_name()?;
                let count = if self.peek() == Some(b':') {
                    self.pos += 1;
                    let n = self.integer()?;
                    if !(1..=1 << 16).contains(&n) {
                        return self.err_at(at, format!("invalid result count {n}"));
                    }
                    n as usize
                } else {
                    1
                };
                results.push((name, count, at));
                if !self.eat(",") {
                    break;
                }
            }
            self.expect("=")?;
        }
        self.ws();
        let name_at = self.here();
        if self.peek() == Some(b'"') {
            let name = self.string_literal()?;
            let def = self.lookup_op(&name, name_at)?;
            return self.generic_op(block, def, results, name_at);
        }
        let name = self.identifier()?;
        match name {
            "func.func" if results.is_empty() => self.pretty_func(block, name_at),
            "return" | "func.return" => {
                if !results.is_empty() {
                    return self.err_at(name_at, "'func.return' has no results");
                }
                self.pretty_return(block, name_at)
            }
            _ => {
                let def = self.lookup_op(name, name_at)?;
                self.custom_op(block, def, results, name_at)
            }
        }
    }

    fn lookup_op(&self, name: &str, at: SrcPos) -> PResult<&'static OpDef> {
        match dialects::lookup(name) {
            Some(d) => Ok(d),
            None => {
                let dialect = name.split_once('.').map_or("", |(d, _)| d);
                if dialects::DIALECTS.contains(&dialect) {
                    self.err_at(at, format!("unknown operation '{name}' in dialect '{dialect}' (genie-opt --list-ops lists them)"))
                } else {
                    self.err_at(at, format!("unknown operation '{name}': Genie reads the func, sem and exec dialects"))
                }
            }
        }
    }

    /// Operand list `%a, %b#1, …` (possibly empty).
    fn operand_list(&mut self) -> PResult<Vec<ValueId>> {
        let mut ops = Vec::new();
        self.ws();
        if self.peek() != Some(b'%') {
            return Ok(ops);
        }
        loop {
            ops.push(self.value_use()?);
            if !self.eat(",") {
                return Ok(ops);
            }
        }
    }

    /// `({…}, {…})` regions of a just-created op.
    fn regions(&mut self, op: OpId) -> PResult<()> {
        loop {
            self.expect("{")?;
            let block = self.module.add_region(op);
            let isolated = self.module.op(op).def.traits.has(Traits::ISOLATED);
            if isolated {
                self.scopes.push(HashMap::default());
            }
            self.ws();
            if self.peek() == Some(b'^') {
                self.block_label(block)?;
            }
            let r = self.ops_until_brace(block);
            if isolated {
                self.scopes.pop();
            }
            r?;
            if self.eat(")") {
                return Ok(());
            }
            self.expect(",")?;
        }
    }

    /// Gives `op` its results, defines their names and places it in `block`.
    fn finish_op(
        &mut self,
        block: BlockId,
        op: OpId,
        results: Vec<(&'a str, usize, SrcPos)>,
        result_types: Vec<Type>,
        name_at: SrcPos,
    ) -> PResult<()> {
        let declared: usize = results.iter().map(|r| r.1).sum();
        if declared != result_types.len() {
            return self.err_at(
                name_at,
                format!("'{}' declares {declared} result name(s) but {} result type(s)", self.module.op(op).name(), result_types.len()),
            );
        }
        let values = self.module.set_results(op, result_types);
        let mut i = 0;
        for (name, count, at) in results {
            self.define(name, values[i], count as u32, at)?;
            i += count;
        }
        self.module.op_mut(op).src = Some(name_at);
        self.module.append_op(block, op);
        Ok(())
    }

    fn generic_op(&mut self, block: BlockId, def: &'static OpDef, results: Vec<(&'a str, usize, SrcPos)>, name_at: SrcPos) -> PResult<()> {
        self.expect("(")?;
        let operands = self.operand_list()?;
        self.expect(")")?;
        let op = self.module.create_op(def, operands.clone(), vec![], AttrDict::new(), Location::Unknown);
        self.ws();
        let mut attrs = AttrDict::new();
        if self.rest().starts_with(b"<{") {
            self.pos += 1;
            attrs = self.attr_dict()?;
            self.expect(">")?;
        }
        if self.eat("(") {
            self.regions(op)?;
        }
        self.ws();
        if self.peek() == Some(b'{') {
            let more = self.attr_dict()?;
            attrs.merge(more);
        }
        self.expect(":")?;
        let ty_at = self.here();
        let Type::Function(ins, outs) = self.parse_type()? else {
            return self.err_at(ty_at, "expected a function type '(operands) -> results'");
        };
        if ins.len() != operands.len() {
            return self.err_at(ty_at, format!("'{}' has {} operand(s) but its type lists {}", def.name, operands.len(), ins.len()));
        }
        for (i, (&v, ty)) in operands.iter().zip(&ins).enumerate() {
            let actual = self.module.value_type(v);
            if actual != ty {
                return self.err_at(ty_at, format!("operand #{i} of '{}' has type {actual} but the op's type says {ty}", def.name));
            }
        }
        let loc = self.opt_location()?;
        let data = self.module.op_mut(op);
        data.attrs = attrs;
        data.loc = loc;
        self.finish_op(block, op, results, outs, name_at)
    }

    fn custom_op(&mut self, block: BlockId, def: &'static OpDef, results: Vec<(&'a str, usize, SrcPos)>, name_at: SrcPos) -> PResult<()> {
        let operands = self.operand_list()?;
        let op = self.module.create_op(def, operands, vec![], AttrDict::new(), Location::Unknown);
        self.ws();
        if self.rest().starts_with(b"({") {
            self.pos += 1;
            self.regions(op)?;
        }
        self.ws();
        let attrs = if self.peek() == Some(b'{') { self.attr_dict()? } else { AttrDict::new() };
        let types = if self.eat(":") {
            let mut tys = vec![self.parse_type()?];
            while self.eat(",") {
                tys.push(self.parse_type()?);
            }
            tys
        } else {
            vec![]
        };
        let loc = self.opt_location()?;
        let data = self.module.op_mut(op);
        data.attrs = attrs;
        data.loc = loc;
        self.finish_op(block, op, results, types, name_at)
    }

    /// `return %a, %b : T, U`
    fn pretty_return(&mut self, block: BlockId, name_at: SrcPos) -> PResult<()> {
        let operands = self.operand_list()?;
        if !operands.is_empty() {
            self.expect(":")?;
            let at = self.here();
            let mut tys = vec![self.parse_type()?];
            while self.eat(",") {
                tys.push(self.parse_type()?);
            }
            if tys.len() != operands.len() {
                return self.err_at(at, format!("return has {} operand(s) but {} type(s)", operands.len(), tys.len()));
            }
            for (i, (&v, ty)) in operands.iter().zip(&tys).enumerate() {
                let actual = self.module.value_type(v);
                if actual != ty {
                    return self.err_at(at, format!("return operand #{i} has type {actual}, not {ty}"));
                }
            }
        }
        let loc = self.opt_location()?;
        let def = dialects::lookup("func.return").expect("registered");
        let op = self.module.create_op(def, operands, vec![], AttrDict::new(), loc);
        self.finish_op(block, op, vec![], vec![], name_at)
    }

    /// `func.func @name(%a: T, …) -> R attributes {…} { … }`
    fn pretty_func(&mut self, block: BlockId, name_at: SrcPos) -> PResult<()> {
        let visibility = ["private", "public", "nested"].into_iter().find(|v| self.eat_keyword(v));
        let name = self.symbol_name()?;
        let def = dialects::lookup("func.func").expect("registered");
        let f = self.module.create_op(def, vec![], vec![], AttrDict::new(), Location::Unknown);
        let entry = self.module.add_region(f);
        self.scopes.push(HashMap::default());
        let r = self.pretty_func_rest(f, entry, name);
        self.scopes.pop();
        r?;
        if let Some(v) = visibility {
            self.module.op_mut(f).attrs.set("sym_visibility", Attribute::String(v.to_string()));
        }
        self.finish_op(block, f, vec![], vec![], name_at)
    }

    fn pretty_func_rest(&mut self, f: OpId, entry: BlockId, name: String) -> PResult<()> {
        self.expect("(")?;
        let mut inputs = Vec::new();
        if !self.eat(")") {
            loop {
                self.ws();
                let at = self.here();
                let arg = self.value_name()?;
                self.expect(":")?;
                let ty = self.parse_type()?;
                inputs.push(ty.clone());
                let v = self.module.add_block_arg(entry, ty);
                self.define(arg, v, 1, at)?;
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        let outputs = if self.eat("->") { self.result_types()? } else { vec![] };
        let mut attrs = if self.eat_keyword("attributes") { self.attr_dict()? } else { AttrDict::new() };
        attrs.set("sym_name", Attribute::String(name));
        attrs.set("function_type", Attribute::ty(Type::Function(inputs, outputs)));
        self.expect("{")?;
        self.ops_until_brace(entry)?;
        let loc = self.opt_location()?;
        let data = self.module.op_mut(f);
        data.attrs = attrs;
        data.loc = loc;
        Ok(())
    }
}

fn f16_bits_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((bits >> 10) & 0x1f) as i32;
    let frac = (bits & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}
