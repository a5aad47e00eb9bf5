//! `portico-dev-idp [--port N] [--admin] [--access-ttl SECS] [--no-rotation] [--no-dpop] [--dpop-nonce]`
//!
//! Starts the development OpenID Provider and the demo APIs on loopback, prints one JSON line
//! `{"issuer": ..., "apis": {audience: url}, "admin": bool}` on stdout, and runs until SIGINT/SIGTERM.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use portico_dev_idp::{DemoApis, DevIdp, IdpConfig, RefreshRotation};

const USAGE: &str = "usage: portico-dev-idp [--port N] [--admin] [--access-ttl SECS] [--no-rotation] [--no-dpop] [--dpop-nonce]";

fn parse_args(args: impl Iterator<Item = String>) -> Result<IdpConfig, String> {
    let mut config = IdpConfig::portico_demo();
    let mut args = args;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => {
                let v = args.next().ok_or("--port needs a value")?;
                let port: u16 = v.parse().map_err(|_| format!("bad port {v}"))?;
                config.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            }
            "--admin" => config.admin_endpoint = true,
            "--access-ttl" => {
                let v = args.next().ok_or("--access-ttl needs a value")?;
                let secs: u64 = v.parse().map_err(|_| format!("bad --access-ttl {v}"))?;
                config.access_token_ttl = Duration::from_secs(secs);
            }
            "--no-rotation" => config.rotation = RefreshRotation::NonRotating,
            "--no-dpop" => config.dpop = false,
            "--dpop-nonce" => config.dpop_nonce = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(config)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let apis_config = config.apis.clone();
    let admin = config.admin_endpoint;
    let idp = match DevIdp::start(config).await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("cannot start the identity provider: {e}");
            return ExitCode::FAILURE;
        }
    };
    let apis = match DemoApis::start(idp.issuer(), &apis_config).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot start the demo APIs: {e}");
            return ExitCode::FAILURE;
        }
    };
    let api_map: serde_json::Map<String, serde_json::Value> = apis
        .all()
        .into_iter()
        .map(|(aud, url)| (aud, serde_json::Value::String(url.to_string())))
        .collect();
    let line =
        serde_json::json!({ "issuer": idp.issuer().as_str(), "apis": api_map, "admin": admin });
    println!("{line}");
    wait_for_signal().await;
    apis.shutdown().await;
    idp.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> impl Iterator<Item = String> {
        v.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn parses_flags() {
        let c = parse_args(args(&[
            "--port",
            "8123",
            "--admin",
            "--access-ttl",
            "5",
            "--no-rotation",
            "--dpop-nonce",
        ]))
        .expect("valid");
        assert_eq!(c.bind.port(), 8123);
        assert!(c.bind.ip().is_loopback());
        assert!(c.admin_endpoint);
        assert_eq!(c.access_token_ttl, Duration::from_secs(5));
        assert_eq!(c.rotation, RefreshRotation::NonRotating);
        assert!(c.dpop && c.dpop_nonce);
        assert!(!parse_args(args(&["--no-dpop"])).expect("valid").dpop);
        assert!(parse_args(args(&["--port"])).is_err());
        assert!(parse_args(args(&["--port", "x"])).is_err());
        assert!(parse_args(args(&["--bogus"])).is_err());
        let d = parse_args(args(&[])).expect("defaults");
        assert!(!d.admin_endpoint);
        assert!(d.dpop && !d.dpop_nonce);
    }
}
