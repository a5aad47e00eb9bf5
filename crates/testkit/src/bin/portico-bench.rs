//! `cargo xtask bench` builds this and runs it with what it built; see `portico_testkit::bench`.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    portico_testkit::bench::main().await
}
