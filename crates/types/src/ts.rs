//! Generated TypeScript declarations (ts-rs output), one checked-in file per crate, and the
//! staleness check each crate's test runs on it.

use std::path::Path;

/// The file: `header` (comment lines, imports), then each declaration exported.
pub fn declarations_file(header: &str, decls: impl IntoIterator<Item = String>) -> String {
    let mut out = String::from(header);
    for d in decls {
        out.push_str("\nexport ");
        out.push_str(d.trim());
        out.push('\n');
    }
    out
}

/// For a test: panics naming `regenerate` (the command) when the file at `path` is not
/// `fresh`; with `update` (the test saw `PORTICO_UPDATE_TS=1`) it writes `fresh` there first.
/// The test reads the variable, not this crate: the app itself never does.
pub fn assert_current(path: &Path, fresh: &str, regenerate: &str, update: bool) {
    if update {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(path, fresh) {
            panic!("cannot write {}: {e}", path.display());
        }
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "{} is stale; regenerate with PORTICO_UPDATE_TS=1 {regenerate}",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_exported_after_the_header() {
        let f = declarations_file("// h\n", ["type A = string;".to_owned()]);
        assert_eq!(f, "// h\n\nexport type A = string;\n");
    }

    #[test]
    #[should_panic(expected = "is stale; regenerate with PORTICO_UPDATE_TS=1 cargo test x")]
    fn a_stale_file_is_named_with_its_command() {
        assert_current(
            Path::new("/nonexistent/portico.gen.ts"),
            "fresh",
            "cargo test x",
            false,
        );
    }
}
