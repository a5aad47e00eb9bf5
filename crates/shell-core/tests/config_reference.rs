//! `docs/configuration.md` against the code: every key of the `plugins.portico` section and every
//! `PORTICO_*` variable the app reads is documented, nothing documented is missing from the code,
//! and the fixed texts of the start-up errors appear in the reference as the app prints them.
//!
//! The code side is read from the sources (not from a list kept beside them), so a new field in
//! `RawConfig`/`RawProvider`/`RawMfe`/`RawSource` or a new `"PORTICO_..."` lookup fails this test
//! until the reference describes it. The rules for single values live in `portico-types`
//! (`crates/types/src`), whose texts the loader prints after the field: they are read too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// A source file without its `#[cfg(test)]` module (tests may name variables the app never reads).
fn app_source(rel: &str) -> String {
    let text = read(rel);
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Every Rust source of the running app's configuration and environment handling.
fn app_sources() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries.map(|e| e.expect("dir entry").path()) {
            if entry.is_dir() {
                walk(&entry, out);
            } else if entry.extension().is_some_and(|x| x == "rs") {
                out.push(entry);
            }
        }
    }
    let mut files = Vec::new();
    for dir in [
        "crates/types/src",
        "crates/shell-core/src",
        "crates/broker/src",
        "crates/tauri-plugin-portico/src",
        "src-tauri/src",
    ] {
        walk(&repo().join(dir), &mut files);
    }
    assert!(files.len() >= 10, "found only {files:?}");
    files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(repo()).expect("inside the repo");
            app_source(&rel.to_string_lossy())
        })
        .collect()
}

/// `PORTICO_[A-Z0-9_]+` words in a text; `quoted` keeps only those inside a string literal.
fn portico_vars(text: &str, quoted: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("PORTICO_") {
        let start = i + pos;
        let mut end = start + "PORTICO_".len();
        while end < bytes.len()
            && (bytes[end].is_ascii_uppercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let word_start = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric());
        let named = end > start + "PORTICO_".len();
        let in_literal = start > 0 && bytes[start - 1] == b'"' && bytes.get(end) == Some(&b'"');
        if word_start && named && (!quoted || in_literal) {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

/// The lines of `doc` under the `## ` heading that starts with `heading`, up to the next one.
fn section<'a>(doc: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(heading));
    let Some(_) = lines.next() else {
        panic!("docs/configuration.md has no section `{heading}`");
    };
    lines.take_while(|l| !l.starts_with("## ")).collect()
}

/// First cells of table rows that are a single code span: `| \`provider.issuer\` | ...`.
fn first_cells(lines: &[&str]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once("` |").map(|(cell, _)| cell.to_string()))
        .filter(|cell| !cell.contains('`'))
        .collect()
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The body of `struct NAME {` or `enum NAME {` in `src`, with the attributes right above it.
fn item<'a>(src: &'a str, kind: &str, name: &str) -> (&'a str, &'a str) {
    let head = format!("{kind} {name} {{");
    let start = src
        .find(&head)
        .unwrap_or_else(|| panic!("config.rs has no `{head}`"));
    let body_start = start + head.len();
    let body_end = body_start + src[body_start..].find("\n}").expect("item end");
    let attrs_start = src[..start].rfind("\n\n").unwrap_or(0);
    (&src[attrs_start..start], &src[body_start..body_end])
}

/// Key paths of the `plugins.portico` section, from the serde structs in config.rs.
fn code_keys(src: &str, kind: &str, name: &str, prefix: &str, out: &mut BTreeSet<String>) {
    let (attrs, body) = item(src, kind, name);
    assert!(
        attrs.contains("rename_all = \"camelCase\"") && attrs.contains("deny_unknown_fields"),
        "{name} is no longer camelCase with deny_unknown_fields; update this test"
    );
    for line in body.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") || line.starts_with('#') {
            continue;
        }
        if kind == "enum" {
            // `Bundled(String),` -> `bundled`
            let variant = line.split(['(', ',', ' ']).next().unwrap_or_default();
            let mut chars = variant.chars();
            let key = match chars.next() {
                Some(f) => f.to_lowercase().chain(chars).collect::<String>(),
                None => continue,
            };
            out.insert(format!("{prefix}{key}"));
            continue;
        }
        let Some((field, ty)) = line.trim_end_matches(',').split_once(": ") else {
            continue;
        };
        let key = format!("{prefix}{}", camel(field));
        out.insert(key.clone());
        if let Some(pos) = ty.find("Raw") {
            let inner: String = ty[pos..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let inner_kind = if src.contains(&format!("enum {inner} {{")) {
                "enum"
            } else {
                "struct"
            };
            let nested = if ty.starts_with("Vec<") {
                format!("{key}[].")
            } else {
                format!("{key}.")
            };
            code_keys(src, inner_kind, &inner, &nested, out);
        }
    }
}

#[test]
fn every_configuration_key_is_documented_and_exists() {
    let doc = read("docs/configuration.md");
    let src = app_source("crates/shell-core/src/config.rs");
    let mut code = BTreeSet::new();
    code_keys(&src, "struct", "RawConfig", "", &mut code);
    // The walk must reach the nested sections; a broken parser would pass vacuously otherwise.
    for expected in [
        "provider.issuer",
        "mfes[].audiences",
        "mfes[].source.bundled",
    ] {
        assert!(
            code.contains(expected),
            "parser missed {expected}: {code:?}"
        );
    }
    let documented = first_cells(&section(&doc, "## `plugins.portico` keys"));
    let missing: Vec<_> = code.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "keys in the code but not in docs/configuration.md: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys in docs/configuration.md that the code does not read: {unknown:?}"
    );
}

#[test]
fn every_environment_variable_is_documented_and_exists() {
    let doc = read("docs/configuration.md");
    let mut code = BTreeSet::new();
    for text in app_sources() {
        code.extend(portico_vars(&text, true));
    }
    for expected in [
        "PORTICO_ISSUER",
        "PORTICO_CONFIG",
        "PORTICO_LOG",
        "PORTICO_MIN_TTL_SECS",
    ] {
        assert!(code.contains(expected), "scan missed {expected}: {code:?}");
    }
    let mentioned = portico_vars(&doc, false);
    let tabled: BTreeSet<String> = first_cells(&section(&doc, "## Environment variables"))
        .into_iter()
        .filter(|c| c.starts_with("PORTICO_"))
        .collect();
    let missing: Vec<_> = code.difference(&tabled).collect();
    let unknown: Vec<_> = mentioned.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "variables the app reads but the reference's table lacks: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "variables named in docs/configuration.md that the app does not read: {unknown:?}"
    );
    // The one non-PORTICO variable the configuration falls back to.
    assert!(app_source("crates/shell-core/src/config.rs").contains("\"BROWSER\""));
    assert!(first_cells(&section(&doc, "## Environment variables")).contains("BROWSER"));
}

/// The string literal starting at `s` (which begins with `"`), unescaped, and the rest.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.strip_prefix('"')?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(match e {
                    'n' => '\n',
                    other => other,
                });
            }
            '"' => return Some((out, &s[i + 2..])),
            c => out.push(c),
        }
    }
    None
}

/// The fixed parts of a format string (between placeholders, `{{`/`}}` unescaped).
fn fixed_parts(format: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' if chars.peek() == Some(&c) => {
                chars.next();
                current.push(c);
            }
            '{' => {
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                }
                parts.push(std::mem::take(&mut current));
            }
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// The calls whose last argument is a message, and how many arguments come before it:
/// `ConfigError::new(field, problem)`, `Invalid::new(kind, value, problem)` and `bad(problem)`,
/// the validators' shorthand for the latter.
const MESSAGE_CALLS: [(&str, usize); 3] =
    [("ConfigError::new(", 1), ("Invalid::new(", 2), ("bad(", 0)];

/// Messages the configuration checks can print: the message argument of every call in
/// [`MESSAGE_CALLS`], every `problem: ...` and every `#[error("...")]` of the start-up error.
/// Literal messages must appear whole; formatted ones by their fixed parts.
fn error_texts(src: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut push_arg = |arg: &str| {
        let arg = arg.trim_start();
        if let Some(rest) = arg.strip_prefix("format!(") {
            if let Some((s, _)) = literal(rest.trim_start()) {
                out.push((s, true));
            }
        } else if let Some((s, _)) = literal(arg) {
            out.push((s, false));
        }
    };
    for (call, skip) in MESSAGE_CALLS {
        for (i, _) in src.match_indices(call) {
            // A word that merely ends in the call's name (`is_bad(`) is another function.
            if src[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let mut args = &src[i + call.len()..];
            // Skip the leading arguments: each up to a comma outside parentheses and strings.
            for _ in 0..skip {
                let (mut depth, mut in_str, mut prev) = (0i32, false, ' ');
                let mut split = None;
                for (j, c) in args.char_indices() {
                    match c {
                        '"' if prev != '\\' => in_str = !in_str,
                        '(' if !in_str => depth += 1,
                        ')' if !in_str => depth -= 1,
                        ',' if !in_str && depth == 0 => {
                            split = Some(j);
                            break;
                        }
                        _ => {}
                    }
                    prev = c;
                }
                match split {
                    Some(j) => args = &args[j + 1..],
                    None => {
                        args = "";
                        break;
                    }
                }
            }
            push_arg(args);
        }
    }
    for (i, _) in src.match_indices("problem: ") {
        push_arg(&src[i + "problem: ".len()..]);
    }
    for (i, _) in src.match_indices("#[error(") {
        let arg = &src[i + "#[error(".len()..];
        if let Some((s, _)) = literal(arg) {
            out.push((s, true));
        }
    }
    out
}

#[test]
fn the_documented_errors_are_the_ones_the_app_prints() {
    let doc = read("docs/configuration.md");
    let mut texts = Vec::new();
    for rel in [
        "crates/shell-core/src/config.rs",
        "crates/tauri-plugin-portico/src/setup.rs",
        "crates/tauri-plugin-portico/src/error.rs",
        "crates/types/src/audience.rs",
        "crates/types/src/scope.rs",
        "crates/types/src/provider.rs",
        "crates/types/src/dialect.rs",
    ] {
        texts.extend(error_texts(&app_source(rel)));
    }
    assert!(
        texts.len() >= 40,
        "found only {} error texts; has the code changed shape?",
        texts.len()
    );
    // One text of each kind of call: a scanner that stopped seeing one would pass vacuously.
    for expected in [
        "register at least one micro frontend",
        "is not an absolute URI",
        "is set by Portico itself and cannot be overridden",
        "must be 1 to {MAX_CLIENT_ID_LEN} visible characters without spaces",
    ] {
        assert!(
            texts.iter().any(|(t, _)| t == expected),
            "the scan missed {expected:?}"
        );
    }
    let mut absent = Vec::new();
    for (text, formatted) in &texts {
        if *formatted {
            for part in fixed_parts(text) {
                // Short glue like "): " says nothing; the words around placeholders do.
                if part.trim().len() >= 6 && !doc.contains(part.as_str()) {
                    absent.push(format!("{part:?} (of {text:?})"));
                }
            }
        } else if !doc.contains(text.as_str()) {
            absent.push(format!("{text:?}"));
        }
    }
    assert!(
        absent.is_empty(),
        "error texts the code prints but docs/configuration.md does not show:\n{}",
        absent.join("\n")
    );
}

#[test]
fn the_scanners_see_what_they_must() {
    // Guards against a scanner that finds nothing and lets everything pass.
    let vars = portico_vars(
        r#"env("PORTICO_A_1") "PORTICO_" PORTICO_B x"PORTICO_C"y"#,
        true,
    );
    assert_eq!(
        vars.into_iter().collect::<Vec<_>>(),
        vec!["PORTICO_A_1", "PORTICO_C"]
    );
    assert_eq!(
        fixed_parts("`{}` must match [a-z0-9-]{{1,32}} ({e:?})"),
        vec!["`", "` must match [a-z0-9-]{1,32} (", ")"]
    );
    let texts = error_texts(
        r#"ConfigError::new(at("id"), format!("`{}` bad", x)); ConfigError::new("f", "plain, text")
        Invalid::new(Kind::Scope, &f(a, b), "three, args"); bad("short"); is_bad("not this")"#,
    );
    assert_eq!(
        texts,
        vec![
            ("`{}` bad".to_string(), true),
            ("plain, text".to_string(), false),
            ("three, args".to_string(), false),
            ("short".to_string(), false),
        ]
    );
    let mut keys = BTreeSet::new();
    code_keys(
        "\n\n#[serde(rename_all = \"camelCase\", deny_unknown_fields)]\nstruct RawConfig {\n    a_b: Vec<RawX>,\n}\n\n#[serde(rename_all = \"camelCase\", deny_unknown_fields)]\nenum RawX {\n    One(String),\n}\n",
        "struct",
        "RawConfig",
        "",
        &mut keys,
    );
    assert_eq!(keys.into_iter().collect::<Vec<_>>(), vec!["aB", "aB[].one"]);
}
