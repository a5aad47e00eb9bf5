fn main() {
    let attributes = tauri_build::Attributes::new()
        // The one app configuration lives at the repository root (see README, Architecture).
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(&[
            "get_token",
            "mfe_subscribe",
            "mfe_context",
            "mfe_sign_in",
            "mfe_ping",
            "shell_state",
            "shell_subscribe",
            "shell_sign_in",
            "shell_cancel_sign_in",
            "shell_sign_out",
            "shell_select_mfe",
            "shell_set_chrome_expanded",
            "token_status",
        ]));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
