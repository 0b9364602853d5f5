//! `--verify-diagnostics`: matches produced diagnostics against
//! `// expected-error@+1 {{message}}` comments, as MLIR's lit tests do.
//! Forms: `expected-<severity> {{…}}` (same line), `@+N`, `@-N`, `@above`,
//! `@below`. The message matches when it contains the text in braces.

use genie_ir::{Diagnostics, Severity};

struct Expected {
    severity: Severity,
    line: u32,
    message: String,
    /// Line of the comment itself, for reporting.
    at: u32,
    matched: bool,
}

fn parse_expectations(chunk: &str, line_offset: u32) -> Result<Vec<Expected>, String> {
    let mut out = Vec::new();
    for (i, text) in chunk.lines().enumerate() {
        let line = line_offset + i as u32 + 1;
        let Some(pos) = text.find("expected-") else { continue };
        let rest = &text[pos + "expected-".len()..];
        let (severity, rest) = if let Some(r) = rest.strip_prefix("error") {
            (Severity::Error, r)
        } else if let Some(r) = rest.strip_prefix("warning") {
            (Severity::Warning, r)
        } else if let Some(r) = rest.strip_prefix("note") {
            (Severity::Note, r)
        } else if let Some(r) = rest.strip_prefix("remark") {
            (Severity::Remark, r)
        } else {
            continue;
        };
        let (target, rest) = match rest.strip_prefix('@') {
            None => (line, rest),
            Some(r) => {
                let end = r.find(|c: char| c.is_whitespace() || c == '{').unwrap_or(r.len());
                let spec = &r[..end];
                let target = match spec {
                    "above" => line.checked_sub(1),
                    "below" => Some(line + 1),
                    s if s.starts_with('+') => s[1..].parse::<u32>().ok().map(|n| line + n),
                    s if s.starts_with('-') => s[1..].parse::<u32>().ok().and_then(|n| line.checked_sub(n)),
                    _ => None,
                };
                (target.ok_or_else(|| format!("line {line}: invalid line specifier '@{spec}'"))?, &r[end..])
            }
        };
        let rest = rest.trim_start();
        let Some(body) = rest.strip_prefix("{{") else {
            return Err(format!("line {line}: expected '{{{{message}}}}' after the expectation"));
        };
        let Some(end) = body.find("}}") else {
            return Err(format!("line {line}: unterminated '{{{{' in expectation"));
        };
        out.push(Expected { severity, line: target, message: body[..end].to_string(), at: line, matched: false });
    }
    Ok(out)
}

/// Ok when every diagnostic was expected and every expectation was met.
pub fn check(chunk: &str, filename: &str, line_offset: u32, produced: &Diagnostics) -> Result<(), String> {
    let mut expected = parse_expectations(chunk, line_offset).map_err(|e| format!("{filename}: {e}"))?;
    let mut problems = Vec::new();
    for d in produced.iter() {
        let Some(pos) = d.pos else {
            // Position-less notes only add context to a located error.
            if d.severity != Severity::Note {
                problems.push(format!("{d}\n  (unexpected diagnostic without a location)"));
            }
            continue;
        };
        let hit = expected.iter_mut().find(|e| !e.matched && e.severity == d.severity && e.line == pos.line && d.message.contains(&e.message));
        match hit {
            Some(e) => e.matched = true,
            None => problems.push(format!("{filename}:{}:{}: error: unexpected {}: {}", pos.line, pos.col, d.severity.as_str(), d.message)),
        }
    }
    for e in expected.iter().filter(|e| !e.matched) {
        problems.push(format!(
            "{filename}:{}: error: expected {} on line {} was not produced: {}",
            e.at,
            e.severity.as_str(),
            e.line,
            e.message
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
