//! Start-up from `plugins.portico`: read and validate the registry, start the embedded default
//! when no provider is configured (in a build that has it), give bundled MFEs their loopback
//! origins and build the broker from the provider configuration the loader built.

use std::sync::Arc;

use portico_broker::{Broker, BrokerOptions, KeyringStore, SystemClock};
use portico_shell_core::config::{MfeSource, Origin};
use portico_shell_core::embedded::{self, Embedded};
use portico_shell_core::mfe_host::{home_addresses, AssetSource, MfeHost};
use portico_shell_core::ShellConfig;
use tauri::{AppHandle, Runtime};

use crate::desktop::Portico;
use crate::error::Error;
use crate::models::ProviderView;

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// The `plugins.portico` section Tauri handed to the plugin, or the JSON file `PORTICO_CONFIG`
/// names instead.
fn config_section(section: &serde_json::Value) -> Result<serde_json::Value, Error> {
    if let Some(path) = env("PORTICO_CONFIG").filter(|p| !p.is_empty()) {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::ConfigFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        return serde_json::from_str(&text).map_err(|e| Error::ConfigFile {
            path,
            reason: e.to_string(),
        });
    }
    Ok(section.clone())
}

/// The schemes `plugins.deep-link.desktop.schemes` registers.
pub fn deep_link_schemes<R: Runtime>(app: &AppHandle<R>) -> Vec<String> {
    app.config()
        .plugins
        .0
        .get("deep-link")
        .and_then(|d| d.get("desktop"))
        .and_then(|d| d.get("schemes"))
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Everything the plugin holds, from its configuration section.
pub(crate) fn build<R: Runtime>(
    app: &AppHandle<R>,
    section: &serde_json::Value,
) -> Result<Portico, Error> {
    let schemes = deep_link_schemes(app);
    let mut config = ShellConfig::load(&config_section(section)?, &env, &schemes)?;
    if config.provider.is_none() && !embedded::BUILT_IN {
        return Err(Error::NoProvider);
    }
    let assets: AssetSource = {
        let resolver = app.asset_resolver();
        Arc::new(move |path: &str| resolver.get(path.to_string()).map(|a| a.bytes))
    };
    let identifier = app.config().identifier.clone();
    let (embedded, hosts) = tauri::async_runtime::block_on(async {
        let embedded = if config.provider.is_none() {
            let e = Embedded::start()
                .await
                .map_err(|e| Error::Embedded(e.to_string()))?;
            config.embedded_provider(e.issuer().clone(), e.client_id(), &env, &schemes)?;
            e.fill_api_urls(&mut config);
            config.check_apis()?;
            Some(e)
        } else {
            None
        };
        let mut hosts = Vec::new();
        // A loopback host and ports of its own for each bundled MFE, the same in every run:
        // its own cookies, and its own storage again after a restart.
        let keys: Vec<String> = config
            .mfes
            .iter()
            .filter(|m| matches!(m.source, MfeSource::Bundled(_)))
            .map(|m| format!("{identifier}/{}", m.id))
            .collect();
        let mut homes = home_addresses(&keys).into_iter();
        for mfe in &mut config.mfes {
            if let MfeSource::Bundled(folder) = &mfe.source {
                let Some(home) = homes.next() else { break };
                let host = MfeHost::start_on(folder, assets.clone(), &mfe.content_policy(), &home)
                    .await
                    .map_err(|e| Error::Host {
                        id: mfe.id.clone(),
                        reason: e.to_string(),
                    })?;
                if let Some(origin) = Origin::of(host.url()) {
                    mfe.origins = vec![origin];
                }
                hosts.push(host);
            }
        }
        Ok::<_, Error>((embedded, hosts))
    })?;
    let Some(provider) = config.provider.clone() else {
        return Err(Error::NoProvider);
    };
    let account = format!("{}@{}", provider.client_id(), provider.issuer());
    let store = Arc::new(KeyringStore::new(&config.keyring_service, &account));
    let view = ProviderView {
        issuer: provider.issuer().to_string(),
        dialect: provider.dialect(),
        embedded: embedded.is_some(),
    };
    let broker = Broker::new(
        provider,
        broker_options(&env)?,
        store,
        Arc::new(SystemClock),
    )
    .map_err(Error::Broker)?;
    Ok(Portico::with_servers(config, broker, view, embedded, hosts))
}

/// Broker tunables from the environment (tests shorten them; production keeps the defaults).
pub fn broker_options(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BrokerOptions, portico_shell_core::ConfigError> {
    let mut o = BrokerOptions::default();
    let secs = |key: &str, target: &mut std::time::Duration| {
        if let Some(v) = env(key).filter(|v| !v.trim().is_empty()) {
            match v.trim().parse::<u64>() {
                Ok(n) if n > 0 && n <= 86_400 => *target = std::time::Duration::from_secs(n),
                _ => {
                    return Err(portico_shell_core::ConfigError {
                        field: key.to_string(),
                        problem: format!("`{v}` is not a number of seconds from 1 to 86400"),
                    })
                }
            }
        }
        Ok(())
    };
    secs("PORTICO_MIN_TTL_SECS", &mut o.min_ttl)?;
    secs("PORTICO_REFRESH_SKEW_SECS", &mut o.refresh_skew)?;
    secs(
        "PORTICO_REFRESH_CHECK_SECS",
        &mut o.proactive_check_interval,
    )?;
    secs("PORTICO_HTTP_TIMEOUT_SECS", &mut o.http_timeout)?;
    secs("PORTICO_FETCH_TIMEOUT_SECS", &mut o.fetch.timeout)?;
    // One limit for both directions of a native fetch: a page's request body and the answer.
    if let Some(v) = env("PORTICO_FETCH_MAX_BYTES").filter(|v| !v.trim().is_empty()) {
        match v.trim().parse::<usize>() {
            Ok(n) if (1024..=1024 * 1024 * 1024).contains(&n) => {
                o.fetch.max_request_body = n;
                o.fetch.max_response_body = n;
            }
            _ => {
                return Err(portico_shell_core::ConfigError {
                    field: "PORTICO_FETCH_MAX_BYTES".into(),
                    problem: format!("`{v}` is not a number of bytes from 1024 to 1073741824"),
                })
            }
        }
    }
    // How many provider requests one MFE may cause: at once, and added back per minute.
    let count = |key: &str, target: &mut u32| {
        if let Some(v) = env(key).filter(|v| !v.trim().is_empty()) {
            match v.trim().parse::<u32>() {
                Ok(n) if (1..=10_000).contains(&n) => *target = n,
                _ => {
                    return Err(portico_shell_core::ConfigError {
                        field: key.to_string(),
                        problem: format!("`{v}` is not a whole number from 1 to 10000"),
                    })
                }
            }
        }
        Ok(())
    };
    count("PORTICO_MFE_TOKEN_BURST", &mut o.caller_token_rate.burst)?;
    count(
        "PORTICO_MFE_TOKEN_PER_MINUTE",
        &mut o.caller_token_rate.per_minute,
    )?;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn fetch_limits_come_from_the_environment_and_bad_values_are_named() {
        let o = broker_options(&with(&[
            ("PORTICO_FETCH_MAX_BYTES", "2048"),
            ("PORTICO_FETCH_TIMEOUT_SECS", "5"),
        ]))
        .unwrap();
        assert_eq!(o.fetch.max_request_body, 2048);
        assert_eq!(o.fetch.max_response_body, 2048);
        assert_eq!(o.fetch.timeout, std::time::Duration::from_secs(5));
        let d = broker_options(&with(&[])).unwrap();
        assert_eq!(d.fetch.max_response_body, 10 * 1024 * 1024);
        let e = broker_options(&with(&[("PORTICO_FETCH_MAX_BYTES", "5")])).unwrap_err();
        assert_eq!(e.field, "PORTICO_FETCH_MAX_BYTES");
        assert!(e.problem.contains("`5`"), "{}", e.problem);
    }

    #[test]
    fn the_per_mfe_token_rate_comes_from_the_environment_and_bad_values_are_named() {
        let o = broker_options(&with(&[
            ("PORTICO_MFE_TOKEN_BURST", "5"),
            ("PORTICO_MFE_TOKEN_PER_MINUTE", "12"),
        ]))
        .unwrap();
        assert_eq!(
            (o.caller_token_rate.burst, o.caller_token_rate.per_minute),
            (5, 12)
        );
        let d = broker_options(&with(&[])).unwrap();
        assert_eq!(
            d.caller_token_rate,
            BrokerOptions::default().caller_token_rate
        );
        const BAD: [&[(&str, &str)]; 4] = [
            &[("PORTICO_MFE_TOKEN_BURST", "0")],
            &[("PORTICO_MFE_TOKEN_PER_MINUTE", "-1")],
            &[("PORTICO_MFE_TOKEN_BURST", "many")],
            &[("PORTICO_MFE_TOKEN_PER_MINUTE", "10001")],
        ];
        for pairs in BAD {
            let e = broker_options(&with(pairs)).unwrap_err();
            assert_eq!(e.field, pairs[0].0);
            assert!(
                e.problem.contains(&format!("`{}`", pairs[0].1)),
                "{}",
                e.problem
            );
        }
    }
}
