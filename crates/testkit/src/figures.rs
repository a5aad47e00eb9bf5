//! Figures for the generated reliability report: the adversarial suites, the IPC tests and the
//! crash-safety test [`record`] one JSON line per case when `PORTICO_FIGURES` names a file, and
//! [`reliability_report`] turns those lines, the suites' test counts and the fuzz runs into
//! `docs/reliability.md`. Figures come only from a run; the document is never typed. Sections
//! other commands publish into it between markers ([`KEPT_BLOCKS`]) survive a regeneration
//! ([`keep_blocks`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use crate::machine::{utc_now, Commit, Machine};

/// Appends `{"suite", "case", "expected", "outcome", "as_expected", ...extra}` to the file named
/// by `PORTICO_FIGURES`; without it nothing is written. One `write` on an `O_APPEND` file, so
/// lines of parallel tests do not interleave.
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

/// The figure lines of a `PORTICO_FIGURES` file (unreadable lines are skipped).
pub fn read(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// One package's adversarial test binaries, as cargo test reported them.
#[derive(Debug, Clone)]
pub struct SuiteRun {
    pub package: String,
    pub binaries: usize,
    pub passed: u64,
    pub failed: u64,
}

/// Sums the `test result: ... N passed; M failed` lines of a cargo test log.
pub fn count_results(log: &str) -> (u64, u64) {
    let mut passed = 0;
    let mut failed = 0;
    for line in log.lines().filter(|l| l.starts_with("test result:")) {
        for part in line.split([';', '.']) {
            let words: Vec<&str> = part.split_whitespace().collect();
            if let [n, what] = words[..] {
                let n: u64 = n.parse().unwrap_or(0);
                match what {
                    "passed" => passed += n,
                    "failed" => failed += n,
                    _ => {}
                }
            }
        }
    }
    (passed, failed)
}

/// One fuzz target's run.
#[derive(Debug, Clone)]
pub struct FuzzFigures {
    pub target: String,
    pub seconds: u64,
    pub wall_secs: u64,
    pub execs: u64,
    pub corpus: usize,
    pub crashes: usize,
}

/// What the reliability run did, besides the figures.
#[derive(Debug, Clone)]
pub struct ReliabilityRun {
    /// The command as the document names it (`cargo xtask reliability --fuzz-seconds 60`).
    pub command: String,
    pub tests: Vec<SuiteRun>,
    pub fuzz: Vec<FuzzFigures>,
    pub fuzz_seconds: u64,
    /// The sanitizer of the fuzz build (`None`, `Address`).
    pub sanitizer: String,
}

/// Section order and titles of the document.
const SECTIONS: &[(&str, &str)] = &[
    ("id_tokens", "ID tokens (OpenID RP negatives and positives)"),
    ("callbacks", "Forged callbacks"),
    ("provider_faults", "Provider faults"),
    ("concurrency", "Concurrency"),
    ("crash_safety", "Crash safety"),
    ("storage", "Storage"),
    ("ipc_input", "IPC input"),
    ("secrets_in_logs", "Secrets in logs"),
    (
        "isolation",
        "Isolation between micro frontends (scopes, refusals, rate limits, 429s)",
    ),
    (
        "fetch",
        "Native fetch (URL rules, headers, bodies, redirects, challenges)",
    ),
    (
        "isolation_webviews",
        "Isolation in the real app (cookies, storage, the system browser, the browser handoff)",
    ),
    (
        "fuzz_regressions",
        "Fuzz regressions (crash inputs kept as tests)",
    ),
];

fn cell(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    };
    s.replace('|', "\\|").replace('\n', " ")
}

/// `docs/reliability.md` for a run in the repository at `root`.
pub fn reliability_report(run: &ReliabilityRun, figures: &[Value], root: &Path) -> String {
    let mut d = String::new();
    // Writing to a String cannot fail.
    let _ = render(&mut d, run, figures, root);
    d
}

fn render(
    d: &mut String,
    run: &ReliabilityRun,
    figures: &[Value],
    root: &Path,
) -> std::fmt::Result {
    let mut by_suite: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for f in figures {
        by_suite.entry(cell(&f["suite"])).or_default().push(f);
    }
    writeln!(d, "# Reliability and security figures\n")?;
    writeln!(
        d,
        "Generated by `{}` from the figures the adversarial tests and \
         libFuzzer reported in this run — do not edit by hand. The cases are issue 6's list, \
         with issue 15's isolation cases and issue 16's native-fetch cases; \
         the tests live beside the code (`crates/broker/tests/adversarial_*.rs`, `id_tokens.rs`, \
         `login.rs`, `fuzz_regressions.rs`, `src-tauri/tests/ipc_acl.rs`, \
         `tests/tests/crash_safety.rs`, `tests/tests/webviews.rs`, `tests/tests/deep_links.rs`) and the fuzz targets in `fuzz/`.\n",
        run.command
    )?;
    writeln!(
        d,
        "- Date: {}",
        utc_now("+%Y-%m-%d %H:%M UTC").unwrap_or_else(|| "unknown".into())
    )?;
    writeln!(d, "- Machine: {}", Machine::detect().line())?;
    writeln!(d, "- Commit: {}", Commit::of(root).line())?;
    writeln!(
        d,
        "- Fuzzing: {} s per target, sanitizer {}\n",
        run.fuzz_seconds, run.sanitizer
    )?;

    writeln!(d, "## Summary\n")?;
    writeln!(d, "| suite | cases tried | as expected | not as expected |")?;
    writeln!(d, "|---|---:|---:|---:|")?;
    let mut total = (0, 0);
    for (key, title) in SECTIONS {
        let rows = by_suite.get(*key).map(Vec::as_slice).unwrap_or(&[]);
        let good = rows
            .iter()
            .filter(|f| f["as_expected"] == Value::Bool(true))
            .count();
        total.0 += rows.len();
        total.1 += good;
        writeln!(
            d,
            "| {title} | {} | {good} | {} |",
            rows.len(),
            rows.len() - good
        )?;
    }
    writeln!(
        d,
        "| **all** | **{}** | **{}** | **{}** |\n",
        total.0,
        total.1,
        total.0 - total.1
    )?;
    let execs: u64 = run.fuzz.iter().map(|r| r.execs).sum();
    let crashes: usize = run.fuzz.iter().map(|r| r.crashes).sum();
    writeln!(
        d,
        "Fuzzing: {} targets, {execs} executions, {crashes} crashes.\n",
        run.fuzz.len()
    )?;
    writeln!(
        d,
        "| test package | test binaries | tests passed | tests failed |"
    )?;
    writeln!(d, "|---|---:|---:|---:|")?;
    for t in &run.tests {
        writeln!(
            d,
            "| `{}` | {} | {} | {} |",
            t.package, t.binaries, t.passed, t.failed
        )?;
    }
    writeln!(d)?;

    for (key, title) in SECTIONS {
        let Some(rows) = by_suite.get(*key) else {
            writeln!(d, "## {title}\n\nNo figures were reported.\n")?;
            continue;
        };
        writeln!(d, "## {title}\n")?;
        // Extra columns: every other key any row of this suite reported, in first-seen order.
        let fixed = ["suite", "case", "expected", "outcome", "as_expected"];
        let mut extra: Vec<String> = Vec::new();
        for r in rows {
            if let Some(o) = r.as_object() {
                for k in o.keys() {
                    if !fixed.contains(&k.as_str()) && !extra.contains(k) {
                        extra.push(k.clone());
                    }
                }
            }
        }
        write!(d, "| case | expected | outcome | ok |")?;
        for k in &extra {
            write!(d, " {} |", k.replace('_', " "))?;
        }
        writeln!(d)?;
        write!(d, "|---|---|---|---|")?;
        for _ in &extra {
            write!(d, "---|")?;
        }
        writeln!(d)?;
        for r in rows {
            let ok = if r["as_expected"] == Value::Bool(true) {
                "yes"
            } else {
                "**NO**"
            };
            write!(
                d,
                "| {} | `{}` | `{}` | {ok} |",
                cell(&r["case"]),
                cell(&r["expected"]),
                cell(&r["outcome"])
            )?;
            for k in &extra {
                write!(d, " {} |", cell(r.get(k).unwrap_or(&Value::Null)))?;
            }
            writeln!(d)?;
        }
        writeln!(d)?;
    }

    writeln!(d, "## Fuzzing\n")?;
    writeln!(
        d,
        "cargo-fuzz (libFuzzer, AddressSanitizer, debug assertions) on stable rustc with \
         `RUSTC_BOOTSTRAP=1`; seeds in `fuzz/seeds/`, dictionaries in `fuzz/dicts/`.\n"
    )?;
    writeln!(
        d,
        "| target | seconds fuzzed | wall seconds | executions | exec/s | corpus | crashes |"
    )?;
    writeln!(d, "|---|---:|---:|---:|---:|---:|---:|")?;
    for r in &run.fuzz {
        writeln!(
            d,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.seconds,
            r.wall_secs,
            r.execs,
            r.execs / r.seconds.max(1),
            r.corpus,
            r.crashes
        )?;
    }
    writeln!(d)?;
    Ok(())
}

/// Sections other commands write into `docs/reliability.md`, each between `<!-- NAME:begin -->`
/// and `<!-- NAME:end -->`: `cargo xtask fuzz --publish` (the long fuzz run) and `cargo xtask
/// soak --publish`. [`reliability_report`] does not produce them; [`keep_blocks`] carries them
/// over when the document is regenerated.
pub const KEPT_BLOCKS: &[&str] = &["fuzz-long", "soak"];

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    )
}

/// Where block `name` lies in `doc` (begin marker through end marker), if both markers are there
/// in that order.
fn block_span(doc: &str, name: &str) -> Option<(usize, usize)> {
    let (begin, end) = markers(name);
    let b = doc.find(&begin)?;
    let e = b + doc[b..].find(&end)? + end.len();
    Some((b, e))
}

/// Block `name` of `doc`, markers included.
pub fn block<'a>(doc: &'a str, name: &str) -> Option<&'a str> {
    block_span(doc, name).map(|(b, e)| &doc[b..e])
}

/// `doc` with block `name` replaced by `body` framed by the block's markers, or with that block
/// appended after a blank line when `doc` has none. `body` may already carry the markers.
pub fn put_block(doc: &str, name: &str, body: &str) -> String {
    let (begin, end) = markers(name);
    let body = body.trim();
    let framed = if body.starts_with(&begin) && body.ends_with(&end) {
        body.to_string()
    } else {
        format!("{begin}\n{body}\n{end}")
    };
    match block_span(doc, name) {
        Some((b, e)) => format!("{}{framed}{}", &doc[..b], &doc[e..]),
        None if doc.trim().is_empty() => format!("{framed}\n"),
        None => format!("{}\n\n{framed}\n", doc.trim_end()),
    }
}

/// The regenerated document `new` with every [`KEPT_BLOCKS`] block of the `old` one carried over
/// unchanged, in the order `old` had them (in place if `new` has that block's markers, else
/// appended). A block missing its end marker is not carried over.
pub fn keep_blocks(new: &str, old: &str) -> String {
    let mut found: Vec<(usize, &str, &str)> = KEPT_BLOCKS
        .iter()
        .filter_map(|name| block_span(old, name).map(|(b, e)| (b, *name, &old[b..e])))
        .collect();
    found.sort_by_key(|(at, _, _)| *at);
    found
        .into_iter()
        .fold(new.to_string(), |doc, (_, name, text)| {
            put_block(&doc, name, text)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_test_results() {
        let log = "running 3 tests\ntest result: ok. 3 passed; 0 failed; 0 ignored\n\
                   test result: FAILED. 1 passed; 2 failed; 0 ignored";
        assert_eq!(count_results(log), (4, 2));
    }

    #[test]
    fn regeneration_keeps_the_fuzz_long_and_soak_blocks() {
        let fuzz = "<!-- fuzz-long:begin -->\n## Long fuzz run\n\n| `jwt` | 10,000,000 |\n<!-- fuzz-long:end -->";
        let soak = "<!-- soak:begin -->\n## Soak\n\nPSS flat.\n<!-- soak:end -->";
        let old = format!("# Old figures\n\n## Fuzzing\n\nold table\n\n{soak}\n\n{fuzz}\n");
        let new = "# Reliability\n\n## Fuzzing\n\nnew table\n\n";
        let doc = keep_blocks(new, &old);
        assert_eq!(
            doc,
            format!("# Reliability\n\n## Fuzzing\n\nnew table\n\n{soak}\n\n{fuzz}\n")
        );
        assert_eq!(block(&doc, "fuzz-long"), Some(fuzz));
        assert_eq!(block(&doc, "soak"), Some(soak));
        // Regenerating again changes nothing; nothing to keep leaves the new document as it is.
        assert_eq!(keep_blocks(new, &doc), doc);
        assert_eq!(keep_blocks(new, "# Old\n"), new);
        // A block without its end marker is not carried over half-copied.
        assert_eq!(keep_blocks(new, "<!-- soak:begin -->\n## Soak\n"), new);
    }

    #[test]
    fn put_block_replaces_in_place_or_appends() {
        let doc = "# R\n\n<!-- soak:begin -->\nold\n<!-- soak:end -->\n\n## After\n";
        assert_eq!(
            put_block(doc, "soak", "new"),
            "# R\n\n<!-- soak:begin -->\nnew\n<!-- soak:end -->\n\n## After\n"
        );
        assert_eq!(
            put_block("# R\n\n", "fuzz-long", "## Long fuzz run\n"),
            "# R\n\n<!-- fuzz-long:begin -->\n## Long fuzz run\n<!-- fuzz-long:end -->\n"
        );
        assert_eq!(
            put_block("", "fuzz-long", "x"),
            "<!-- fuzz-long:begin -->\nx\n<!-- fuzz-long:end -->\n"
        );
    }
}
