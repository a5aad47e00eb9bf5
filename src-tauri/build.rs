fn main() {
    let attributes = tauri_build::Attributes::new()
        // The one app configuration lives at the repository root (see README, Architecture).
        .config_path("../tauri.conf.json")
        // The shell's own commands: the layout. Sign-in and tokens are the Portico plugin's
        // (`portico:default`, `portico:host-ui`).
        .app_manifest(
            tauri_build::AppManifest::new()
                .commands(&["shell_select_mfe", "shell_set_chrome_expanded"]),
        );
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
