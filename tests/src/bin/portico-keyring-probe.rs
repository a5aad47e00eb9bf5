//! Reads the app's keyring entry inside a test's own D-Bus session (prints no secrets); the code
//! is the harness's (`portico_testkit::e2e::keyring_probe`), the binary is built beside the tests.

fn main() -> std::process::ExitCode {
    portico_testkit::e2e::keyring_probe::main()
}
