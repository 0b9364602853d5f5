//! `genie._genie.analyze_modules`: the pattern engine and workload analysis
//! (crate `genie-patterns`) over the graphs of one model.

use crate::{ir_error, Module};
use pyo3::prelude::*;

/// Analyse the `sem` modules of one model's graphs; returns the report as a
/// JSON string (see `genie.analyze`). `rules_dirs` adds rule directories to
/// the built-in rules (and `GENIE_RULES_DIR`); a broken rule file raises
/// `IRError` naming the file and line.
#[pyfunction]
#[pyo3(signature = (modules, rules_dirs = Vec::new()))]
pub fn analyze_modules(modules: Vec<PyRef<'_, Module>>, rules_dirs: Vec<String>) -> PyResult<String> {
    let mut rules = genie_patterns::Rules::from_env().map_err(ir_error)?;
    for dir in &rules_dirs {
        rules.load_dir(std::path::Path::new(dir)).map_err(ir_error)?;
    }
    let mut functions = Vec::new();
    let mut per_function = Vec::new();
    for m in &modules {
        let report = genie_patterns::analyze_module(&m.inner, &rules);
        let json = report.to_json(Some(&m.inner));
        per_function.extend(json["functions"].as_array().cloned().unwrap_or_default());
        functions.extend(report.functions);
    }
    let report = genie_patterns::combine(functions, &rules);
    let mut json = report.to_json(None);
    json["functions"] = serde_json::Value::Array(per_function);
    Ok(json.to_string())
}
