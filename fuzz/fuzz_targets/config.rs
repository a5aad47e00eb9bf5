//! Configuration parsing: the shell's `plugins.portico` section (`ShellConfig::load`, with
//! environment overrides taken from the input) and the broker's `ProviderConfig` validation,
//! plus the provider documents read at start (discovery, JWKS) and the stored session.
//! Invariants: no panic; a configuration that validates satisfies the rules it claims to check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_broker::fuzzing;
use portico_shell_core::ShellConfig;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let verdict = fuzzing::config(data);
    if let Ok(issuer) = &verdict.discovery {
        assert_eq!(
            issuer.trim_end_matches('/'),
            fuzzing::ISSUER.trim_end_matches('/')
        );
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // `{"env": {NAME: value}, ...section}`: the environment the shell would see.
    let env_map: Vec<(String, String)> = value
        .get("env")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let env = |name: &str| {
        env_map
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut section = value.clone();
    if let Some(o) = section.as_object_mut() {
        o.remove("env");
    }
    let schemes = vec!["dev.portico.app".to_string()];
    if let Ok(config) = ShellConfig::load(&section, &env, &schemes) {
        assert!(!config.keyring_service.trim().is_empty());
        assert!(config.keyring_service.len() <= 128);
        let _ = config.all_audiences();
        for m in &config.mfes {
            assert!(config.mfe(&m.id).is_some());
            let _ = m.webview_label();
        }
        let policy = portico_shell_core::AccessPolicy::new(&config);
        for a in config.all_audiences() {
            let _ = policy.entitled_labels(a.as_str());
        }
    }
});
