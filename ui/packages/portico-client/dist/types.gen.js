// PROVISIONAL: hand-written from the IPC contract until the Rust side generates this file with
// ts-rs (it will be overwritten). Keep it shaped like ts-rs output for a serde `tag = "kind"` enum.
export {};
