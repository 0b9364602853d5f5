//! Rule files and the rule registry.
//!
//! Rules are text, read at run time: the built-in files under
//! `patterns/rules/` (compiled in as text and parsed on first use), then
//! every `*.rules` file of each directory in `GENIE_RULES_DIR` (`:`-separated)
//! or passed explicitly. A user rule with the name of an existing rule
//! replaces it; a new name adds one. No rebuild is needed.
//!
//! ```text
//! genie-rules 1                       # format version, the first statement
//! # a named set of alternatives; `$SCORES` in a later rule stands for each
//! set SCORES = (sem.matmul ?q ?kt) | (sem.mul (sem.matmul ?q ?kt) ?scale)
//! # an equivalence, added only where the right side has the same type
//! rewrite expand-noop: (sem.expand ?x) => ?x
//! # a recognised pattern: KIND/NAME, a match becomes a `KIND` region
//! pattern attention/sdpa-math: (sem.matmul (sem._softmax $SCORES) ?v) if rank ?q 4
//! ```
//! A line starting with whitespace continues the previous statement. Every
//! error names the file and line.

use crate::lang::SemNode;
use egg::{Pattern, Var};
use std::fmt;
use std::path::Path;

/// The rule-file format this build reads.
pub const FORMAT_VERSION: u32 = 1;
/// Version of the built-in rule set; bump when its rules change meaning.
pub const BUILTIN_VERSION: u32 = 1;

/// The built-in rule files, parsed at run time like user files.
const BUILTIN: &[(&str, &str)] = &[
    ("rules/normalize.rules", include_str!("../rules/normalize.rules")),
    ("rules/transformer.rules", include_str!("../rules/transformer.rules")),
    ("rules/vision.rules", include_str!("../rules/vision.rules")),
    ("rules/recsys.rules", include_str!("../rules/recsys.rules")),
];

/// Region kinds a pattern may produce.
pub const KINDS: &[&str] = &[
    "attention",
    "cross_attention",
    "mlp",
    "layernorm",
    "rmsnorm",
    "residual",
    "conv_bn_act",
    "depthwise_separable_conv",
    "squeeze_excitation",
    "patch_embedding",
    "token_pipeline",
    "embedding",
    "embedding_bag",
    "pairwise_interaction",
    "kv_cache_append",
];

#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub file: String,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: error: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for RuleError {}

impl RuleError {
    /// As IR diagnostics (`file:line:1: error: …`), for passes.
    pub fn to_diagnostics(&self) -> genie_ir::Diagnostics {
        let mut d = genie_ir::Diagnostics::new();
        let pos = (self.line > 0).then_some(genie_ir::SrcPos { line: self.line, col: 1 });
        d.push(genie_ir::Severity::Error, &self.file, pos, self.message.clone());
        d
    }
}

/// An argument of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum CondArg {
    Var(Var),
    /// The matched class itself (`$root`).
    Root,
    Int(i64),
}

/// A side condition: a named predicate over classes (see `engine::check`).
#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    pub pred: String,
    pub args: Vec<CondArg>,
}

/// Predicates and their arity.
pub const PREDICATES: &[(&str, usize, &str)] = &[
    ("rank", 2, "rank ?x N: ?x is a tensor of rank N"),
    ("min-rank", 2, "min-rank ?x N: ?x has rank >= N"),
    ("float", 1, "float ?x: ?x holds floating-point values"),
    ("integer", 1, "integer ?x: ?x holds integers"),
    ("same-shape", 2, "same-shape ?a ?b: equal types"),
    ("input", 1, "input ?x: ?x is a function argument that is not a weight"),
    ("weight", 1, "weight ?x: ?x is a weight argument or derives only from weights"),
    ("output", 1, "output ?x: ?x is returned by the function"),
    ("empty", 1, "empty ?x: ?x has no elements"),
    ("foreign-keys", 2, "foreign-keys ?q ?k: ?q derives from a graph input ?k does not (keys from another stream)"),
    ("own-keys", 2, "own-keys ?q ?k: every graph input ?q derives from, ?k derives from too"),
    ("patchify", 1, "patchify ?c: a convolution whose stride equals its kernel (> 1)"),
    ("depthwise", 1, "depthwise ?c: a grouped convolution with one group per input channel"),
    ("pointwise", 1, "pointwise ?c: a 1x1 convolution"),
    ("scalar-like", 1, "scalar-like ?x: a scalar or a tensor of one element"),
    ("last-dim-one", 1, "last-dim-one ?x: the last dim is 1 (a per-row statistic)"),
    ("derives-from", 2, "derives-from ?y ?x: ?x is among the values ?y is computed from"),
    ("weighted-path", 2, "weighted-path ?y ?x: ?y is computed from ?x through an op reading a weight"),
    ("after-depthwise", 1, "after-depthwise ?x: ?x is a depthwise convolution, possibly through norm/activation/gating ops"),
    ("unit-scale", 1, "unit-scale ?x: every sem.addmm in ?x's class has alpha = beta = 1"),
    ("gate-shape", 2, "gate-shape ?g ?x: ?g is [N, C, 1, 1] for ?x [N, C, H, W]"),
];

pub struct RewriteRule {
    pub name: String,
    pub lhs: Pattern<SemNode>,
    /// Variables the left side repeats, as pairs that must bind one class.
    pub same: Vec<(Var, Var)>,
    pub rhs: Pattern<SemNode>,
    pub conds: Vec<Cond>,
    pub origin: String,
}

/// One expansion of a pattern rule.
pub struct Alternative {
    pub pattern: Pattern<SemNode>,
    /// The region's inputs: the variables in order of first appearance.
    pub vars: Vec<Var>,
    /// Repeated variables that must bind one class (see [`uniquify`]).
    pub same: Vec<(Var, Var)>,
}

pub struct PatternRule {
    pub kind: String,
    pub name: String,
    /// One searcher per expansion of the `$SET` references.
    pub alternatives: Vec<Alternative>,
    pub conds: Vec<Cond>,
    pub origin: String,
}

/// The rules in force: built-ins, then user files in load order.
pub struct RuleSet {
    pub rewrites: Vec<RewriteRule>,
    pub patterns: Vec<PatternRule>,
    /// Files loaded, in order, and what they did (`added`/`replaced` rules).
    pub sources: Vec<String>,
}

impl RuleSet {
    /// Rules from the built-in files only.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut set = RuleSet { rewrites: Vec::new(), patterns: Vec::new(), sources: Vec::new() };
        for (name, text) in BUILTIN {
            set.add_text(name, text)?;
        }
        Ok(set)
    }

    /// Built-ins plus every directory in `GENIE_RULES_DIR` (`:`-separated).
    pub fn from_env() -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::builtin()?;
        if let Ok(dirs) = std::env::var("GENIE_RULES_DIR") {
            for dir in dirs.split(':').filter(|d| !d.is_empty()) {
                set.load_dir(Path::new(dir))?;
            }
        }
        Ok(set)
    }

    /// A version string naming the built-in set and every user file.
    pub fn version(&self) -> String {
        let mut v = format!("builtin-{BUILTIN_VERSION}");
        for s in self.sources.iter().filter(|s| !s.starts_with("rules/")) {
            v.push('+');
            v.push_str(s.split(' ').next().unwrap_or(s));
        }
        v
    }

    /// Loads every `*.rules` file of `dir`, in name order.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), RuleError> {
        let io_err = |e: std::io::Error| RuleError { file: dir.display().to_string(), line: 0, message: format!("cannot read rule directory: {e}") };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(io_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rules"))
            .collect();
        files.sort();
        for f in files {
            self.load_file(&f)?;
        }
        Ok(())
    }

    pub fn load_file(&mut self, path: &Path) -> Result<(), RuleError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RuleError { file: name.clone(), line: 0, message: format!("cannot read rule file: {e}") })?;
        self.add_text(&name, &text)
    }

    /// Parses one file's text and merges its rules (same name: replaced).
    pub fn add_text(&mut self, file: &str, text: &str) -> Result<(), RuleError> {
        let parsed = parse_file(file, text)?;
        let (mut added, mut replaced) = (0, 0);
        for r in parsed.rewrites {
            match self.rewrites.iter_mut().find(|x| x.name == r.name) {
                Some(slot) => {
                    *slot = r;
                    replaced += 1;
                }
                None => {
                    self.rewrites.push(r);
                    added += 1;
                }
            }
        }
        for p in parsed.patterns {
            match self.patterns.iter_mut().find(|x| x.kind == p.kind && x.name == p.name) {
                Some(slot) => {
                    *slot = p;
                    replaced += 1;
                }
                None => {
                    self.patterns.push(p);
                    added += 1;
                }
            }
        }
        self.sources.push(format!("{file} (added {added}, replaced {replaced})"));
        Ok(())
    }
}

struct Parsed {
    rewrites: Vec<RewriteRule>,
    patterns: Vec<PatternRule>,
}

/// Joins continuation lines; yields `(first line number, statement)`.
fn statements(text: &str) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        // `#0` is a projection op, not a comment: a comment is a `#` at the
        // start of a line or after a space, not followed by a digit.
        let comment = raw.match_indices('#').map(|(p, _)| p).find(|&p| {
            (p == 0 || raw[..p].ends_with(char::is_whitespace)) && !raw[p + 1..].starts_with(|c: char| c.is_ascii_digit())
        });
        let line = comment.map_or(raw, |p| &raw[..p]);
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
                continue;
            }
        }
        out.push((i as u32 + 1, line.trim().to_string()));
    }
    out
}

fn parse_file(file: &str, text: &str) -> Result<Parsed, RuleError> {
    let err = |line: u32, message: String| RuleError { file: file.to_string(), line, message };
    let mut parsed = Parsed { rewrites: Vec::new(), patterns: Vec::new() };
    let mut sets: Vec<(String, Vec<String>)> = Vec::new();
    let mut seen_header = false;
    for (line, stmt) in statements(text) {
        let (keyword, rest) = stmt.split_once(char::is_whitespace).unwrap_or((stmt.as_str(), ""));
        let rest = rest.trim();
        if !seen_header {
            if keyword != "genie-rules" {
                return Err(err(line, format!("a rule file starts with 'genie-rules {FORMAT_VERSION}', found '{keyword}'")));
            }
            let v: u32 = rest.parse().map_err(|_| err(line, format!("bad format version '{rest}'")))?;
            if v > FORMAT_VERSION {
                return Err(err(line, format!("rule format version {v} is newer than this build reads ({FORMAT_VERSION})")));
            }
            seen_header = true;
            continue;
        }
        match keyword {
            "set" => {
                let (name, body) = rest.split_once('=').ok_or_else(|| err(line, "expected 'set NAME = ALT | ALT'".into()))?;
                let name = name.trim();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(err(line, format!("bad set name '{name}'")));
                }
                let mut alts = Vec::new();
                for alt in split_top(body, '|') {
                    alts.extend(expand(alt.trim(), &sets).map_err(|m| err(line, m))?);
                }
                sets.retain(|s| s.0 != name);
                sets.push((name.to_string(), alts));
            }
            "rewrite" => {
                let (name, body) = rest.split_once(':').ok_or_else(|| err(line, "expected 'rewrite NAME: LHS => RHS'".into()))?;
                let (body, conds) = split_conditions(body);
                let (lhs, rhs) = body.split_once("=>").ok_or_else(|| err(line, "a rewrite needs '=>'".into()))?;
                let lhs_alts = expand(lhs.trim(), &sets).map_err(|m| err(line, m))?;
                if lhs_alts.len() != 1 {
                    return Err(err(line, "a rewrite's left side cannot use a set".into()));
                }
                let (lhs_text, same) = uniquify(&lhs_alts[0]);
                let lhs = parse_pattern(&lhs_text).map_err(|m| err(line, m))?;
                let rhs = parse_pattern(rhs.trim()).map_err(|m| err(line, m))?;
                let lvars: Vec<Var> = lhs.vars().into_iter().filter(|v| !v.to_string().contains("__")).collect();
                if let Some(v) = rhs.vars().into_iter().find(|v| !lvars.contains(v)) {
                    return Err(err(line, format!("{v} on the right side is not bound on the left")));
                }
                let conds = parse_conditions(conds, &lvars).map_err(|m| err(line, m))?;
                parsed.rewrites.push(RewriteRule { name: name.trim().to_string(), lhs, same, rhs, conds, origin: format!("{file}:{line}") });
            }
            "pattern" => {
                let (name, body) = rest.split_once(':').ok_or_else(|| err(line, "expected 'pattern KIND/NAME: PATTERN'".into()))?;
                let (kind, name) = name.trim().split_once('/').ok_or_else(|| err(line, "a pattern is named KIND/NAME".into()))?;
                if !KINDS.contains(&kind) {
                    return Err(err(line, format!("unknown pattern kind '{kind}' (kinds: {})", KINDS.join(", "))));
                }
                let (body, conds) = split_conditions(body);
                let mut alternatives = Vec::new();
                for alt in expand(body.trim(), &sets).map_err(|m| err(line, m))? {
                    let (text, same) = uniquify(&alt);
                    let p = parse_pattern(&text).map_err(|m| err(line, m))?;
                    let vars = first_appearance(&p);
                    alternatives.push(Alternative { pattern: p, vars, same });
                }
                // Conditions may use only variables every alternative binds.
                let mut common = alternatives[0].vars.clone();
                common.retain(|v| alternatives.iter().all(|a| a.vars.contains(v)));
                let conds = parse_conditions(conds, &common).map_err(|m| err(line, m))?;
                parsed.patterns.push(PatternRule { kind: kind.to_string(), name: name.to_string(), alternatives, conds, origin: format!("{file}:{line}") });
            }
            other => return Err(err(line, format!("unknown statement '{other}' (expected set, rewrite or pattern)"))),
        }
    }
    if !seen_header {
        return Err(err(1, format!("empty rule file: expected 'genie-rules {FORMAT_VERSION}'")));
    }
    Ok(parsed)
}

/// Splits at `sep` outside parentheses.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// `BODY if COND, COND` → (BODY, conditions text).
fn split_conditions(body: &str) -> (&str, &str) {
    // ` if ` at depth 0.
    let mut depth = 0;
    let bytes = body.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b' ' if depth == 0 && body[i..].starts_with(" if ") => return (&body[..i], &body[i + 4..]),
            _ => {}
        }
    }
    (body, "")
}

/// Replaces each `$SET` by each of its alternatives (a cartesian product).
fn expand(text: &str, sets: &[(String, Vec<String>)]) -> Result<Vec<String>, String> {
    let Some(at) = text.find('$') else { return Ok(vec![text.to_string()]) };
    let name_len = text[at + 1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len() - at - 1);
    let name = &text[at + 1..at + 1 + name_len];
    let (_, alts) = sets.iter().find(|s| s.0 == name).ok_or_else(|| format!("unknown set '${name}' (define it with 'set {name} = …' above)"))?;
    let mut out = Vec::new();
    for alt in alts {
        let replaced = format!("{}{}{}", &text[..at], alt, &text[at + 1 + name_len..]);
        out.extend(expand(&replaced, sets)?);
        if out.len() > 4096 {
            return Err("pattern expands to more than 4096 alternatives".into());
        }
    }
    Ok(out)
}

fn parse_pattern(text: &str) -> Result<Pattern<SemNode>, String> {
    let pattern: Pattern<SemNode> = text.parse().map_err(|e| format!("bad pattern '{text}': {e}"))?;
    for node in pattern.ast.as_ref() {
        if let egg::ENodeOrVar::ENode(n) = node {
            let op = n.op_str();
            let known = op.starts_with('#') && op[1..].parse::<u32>().is_ok() || op == "arg";
            if known {
                continue;
            }
            let def = genie_ir::lookup(op).ok_or_else(|| format!("unknown op '{op}' in pattern '{text}'"))?;
            let fixed = def.operands.iter().all(|s| !s.variadic);
            if fixed && def.operands.len() != n.children.len() {
                return Err(format!("'{op}' takes {} operand(s), the pattern gives {}", def.operands.len(), n.children.len()));
            }
        }
    }
    Ok(pattern)
}

/// Renames every repeat of a variable (`?x` … `?x` → `?x` … `?x__1`) and
/// returns the pairs that must be equal. egg compiles a sub-pattern whose
/// variables are all bound into a hash-cons lookup of the exact node, which
/// cannot see through our "any attributes" pattern nodes; with fresh names no
/// sub-pattern is ground, and the engine checks the equalities itself.
pub fn uniquify(text: &str) -> (String, Vec<(Var, Var)>) {
    let mut out = String::with_capacity(text.len());
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut same = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('?') {
        out.push_str(&rest[..at]);
        let len = rest[at..].find(|c: char| c.is_whitespace() || c == '(' || c == ')').unwrap_or(rest.len() - at);
        let name = &rest[at..at + len];
        match seen.iter_mut().find(|s| s.0 == name) {
            Some(entry) => {
                entry.1 += 1;
                let fresh = format!("{name}__{}", entry.1);
                same.push((name.parse().expect("a variable"), fresh.parse().expect("a variable")));
                out.push_str(&fresh);
            }
            None => {
                seen.push((name.to_string(), 0));
                out.push_str(name);
            }
        }
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    (out, same)
}

fn first_appearance(p: &Pattern<SemNode>) -> Vec<Var> {
    // The AST lists children before parents; a left-to-right reading of the
    // text is the order a reader expects, so walk the text order instead.
    let mut vars = Vec::new();
    for tok in p.to_string().split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        if tok.starts_with('?') && !tok.contains("__") {
            let v: Var = tok.parse().expect("a pattern variable");
            if !vars.contains(&v) {
                vars.push(v);
            }
        }
    }
    vars
}

fn parse_conditions(text: &str, bound: &[Var]) -> Result<Vec<Cond>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let pred = words.next().unwrap_or_default();
        let (_, arity, _) = PREDICATES.iter().find(|p| p.0 == pred).ok_or_else(|| {
            let names: Vec<&str> = PREDICATES.iter().map(|p| p.0).collect();
            format!("unknown condition '{pred}' (known: {})", names.join(", "))
        })?;
        let mut args = Vec::new();
        for w in words {
            let arg = if w == "$root" {
                CondArg::Root
            } else if w.starts_with('?') {
                let v: Var = w.parse().map_err(|_| format!("bad variable '{w}'"))?;
                if !bound.contains(&v) {
                    return Err(format!("condition '{part}' uses {w}, which the pattern does not bind"));
                }
                CondArg::Var(v)
            } else {
                CondArg::Int(w.parse().map_err(|_| format!("bad argument '{w}' in condition '{part}'"))?)
            };
            args.push(arg);
        }
        if args.len() != *arity {
            return Err(format!("condition '{pred}' takes {arity} argument(s), got {}", args.len()));
        }
        out.push(Cond { pred: pred.to_string(), args });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_parse() {
        let set = RuleSet::builtin().unwrap();
        assert!(!set.rewrites.is_empty());
        assert!(set.patterns.len() > 10);
        let searchers: usize = set.patterns.iter().map(|p| p.alternatives.len()).sum();
        assert!(searchers > set.patterns.len(), "sets expand into alternatives");
        assert_eq!(set.version(), format!("builtin-{BUILTIN_VERSION}"));
    }

    fn error_of(text: &str) -> String {
        parse_file("user.rules", text).err().expect("an error").to_string()
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(error_of("genie-rules 1\n\npattern mlp/x: (sem.nope ?a)\n"), "user.rules:3: error: unknown op 'sem.nope' in pattern '(sem.nope ?a)'");
        assert!(error_of("pattern mlp/x: (sem.relu ?a)").starts_with("user.rules:1: error: a rule file starts with 'genie-rules 1'"));
        assert!(error_of("genie-rules 9\n").contains("user.rules:1: error: rule format version 9 is newer"));
        assert!(error_of("genie-rules 1\nrewrite r: (sem.relu ?a) => ?b\n").starts_with("user.rules:2: error: ?b on the right side is not bound"));
        assert!(error_of("genie-rules 1\n# c\npattern mlp/x: (sem.relu ?a)\n  if rank ?z 2\n").starts_with("user.rules:3: error: condition 'rank ?z 2' uses ?z"));
        assert!(error_of("genie-rules 1\npattern blob/x: (sem.relu ?a)\n").starts_with("user.rules:2: error: unknown pattern kind 'blob'"));
        assert!(error_of("genie-rules 1\npattern mlp/x: (sem.relu $NOPE)\n").contains("unknown set '$NOPE'"));
        assert!(error_of("genie-rules 1\npattern mlp/x: (sem.relu ?a ?b)\n").contains("'sem.relu' takes 1 operand(s), the pattern gives 2"));
        assert!(error_of("genie-rules 1\npattern mlp/x: (sem.relu ?a) if bogus ?a\n").contains("unknown condition 'bogus'"));
        assert!(error_of("genie-rules 1\nfrobnicate\n").contains("user.rules:2: error: unknown statement 'frobnicate'"));
    }

    #[test]
    fn comments_and_projections() {
        let text = "genie-rules 1 # format\n# a comment\npattern layernorm/x: (#0 (sem.native_layer_norm ?x ?w ?b)) # trailing\n";
        let parsed = parse_file("c.rules", text).unwrap();
        assert_eq!(parsed.patterns.len(), 1);
        assert_eq!(parsed.patterns[0].alternatives[0].pattern.to_string(), "(#0 (sem.native_layer_norm ?x ?w ?b))");
    }

    #[test]
    fn sets_expand_and_user_rules_override() {
        let text = "genie-rules 1\nset A = (sem.relu ?x) | (sem.sigmoid ?x)\nset B = $A | (sem.tanh ?x)\npattern mlp/act: (sem.neg $B)\n";
        let mut set = RuleSet::builtin().unwrap();
        let before = set.patterns.len();
        set.add_text("user.rules", text).unwrap();
        assert_eq!(set.patterns.len(), before + 1);
        assert_eq!(set.patterns.last().unwrap().alternatives.len(), 3);
        set.add_text("user2.rules", "genie-rules 1\npattern mlp/act: (sem.neg ?x)\n").unwrap();
        assert_eq!(set.patterns.len(), before + 1, "same name replaces");
        assert_eq!(set.patterns.last().unwrap().alternatives.len(), 1);
        assert_eq!(set.version(), format!("builtin-{BUILTIN_VERSION}+user.rules+user2.rules"));
    }
}
