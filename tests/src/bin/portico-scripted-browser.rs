//! What the app runs as its "system browser" in the end-to-end tests; the code is the harness's
//! (`portico_testkit::e2e::system_browser`). The binary is declared here, beside the tests, so
//! that `cargo test -p portico-e2e` builds it next to their executables.

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    portico_testkit::e2e::system_browser::main().await
}
