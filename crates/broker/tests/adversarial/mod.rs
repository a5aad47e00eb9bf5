//! Shared by the `adversarial_*` suites: machine-readable figures for `cargo xtask reliability`.
//!
//! With `PORTICO_FIGURES=/path/file.jsonl` set, every case appends one JSON line
//! `{"suite", "case", "expected", "outcome", "as_expected", ...extra}`; without it nothing is written.
#![allow(dead_code)] // each suite uses a part

use serde_json::{json, Value};
use std::io::Write;

/// Appends one figure line (one `write` on an `O_APPEND` file: lines of parallel tests do not interleave).
pub fn record(suite: &str, case: &str, expected: &str, outcome: &str, extra: Value) {
    let Some(path) = std::env::var_os("PORTICO_FIGURES") else {
        return;
    };
    let mut line = json!({
        "suite": suite,
        "case": case,
        "expected": expected,
        "outcome": outcome,
        "as_expected": expected == outcome,
    });
    if let (Some(obj), Value::Object(more)) = (line.as_object_mut(), extra) {
        obj.extend(more);
    }
    let mut text = line.to_string();
    text.push('\n');
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path);
    if let Ok(mut f) = file {
        let _ = f.write_all(text.as_bytes());
    }
}

/// `kind` of a result for the figures: the error kind, or `ok`.
pub fn kind_of<T>(r: &Result<T, portico_broker::AuthError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.kind().into(),
    }
}
