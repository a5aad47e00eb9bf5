//! Shared setup of the broker benchmarks: a real dev-idp on loopback, a broker signed in to it,
//! and where to write figures that criterion does not record (requests made, errors).
#![allow(dead_code)] // each bench target uses a different subset

use portico_broker::*;
use portico_dev_idp::{DevIdp, IdpConfig, RefreshRotation, ANALYTICS_API, BILLING_API, CORE_API};
use portico_testkit::browser;
use portico_testkit::provider as fixture;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The three audiences of the demo, with the scopes each sample MFE is registered for.
pub const AUDIENCES: [(&str, &str); 3] = [
    (BILLING_API, "read:invoices write:invoices"),
    (CORE_API, "read:dashboard"),
    (ANALYTICS_API, "read:reports export:reports"),
];

/// Longer than any access token lives (600 s): advancing the broker's clock by this makes every
/// cached token stale, so the next `get_token` must go to the provider.
pub const PAST_EXPIRY: Duration = Duration::from_secs(3600);

pub fn audience(i: usize) -> (Audience, ScopeSet) {
    let (a, s) = AUDIENCES[i % AUDIENCES.len()];
    (
        Audience::parse(a).expect("demo audience"),
        ScopeSet::parse(s).expect("demo scopes"),
    )
}

pub fn provider(idp: &DevIdp, dialect: Dialect) -> ProviderConfig {
    // What the shell asks for at sign-in (the shell's loader adds the MFEs' scopes).
    let scopes = match dialect {
        Dialect::Auth0 | Dialect::Entra => "openid profile email offline_access read:dashboard",
        Dialect::Rfc8707 => "openid profile email offline_access read:invoices write:invoices read:dashboard read:reports export:reports",
    };
    fixture::dev_idp(idp.issuer(), dialect)
        .and_then(|b| b.scopes(ScopeSet::parse(scopes)?).build())
        .expect("provider fixture")
}

pub struct Signed {
    pub idp: DevIdp,
    pub broker: Broker,
    pub clock: Arc<ManualClock>,
}

/// A dev-idp with the given rotation and a broker signed in as alice through the scripted
/// browser. Must run inside a tokio runtime (the provider's server is spawned onto it).
pub async fn signed_in(dialect: Dialect, rotation: RefreshRotation) -> Signed {
    let idp = DevIdp::start(IdpConfig {
        rotation,
        ..IdpConfig::portico_demo()
    })
    .await
    .expect("dev-idp starts");
    let clock = Arc::new(ManualClock::starting_now());
    let broker = Broker::new(
        provider(&idp, dialect),
        BrokerOptions::default(),
        Arc::new(MemoryStore::new()),
        clock.clone(),
    )
    .expect("broker");
    let login = broker.begin_login(None).await.expect("begin_login");
    let callback = browser::sign_in(login.authorize_url.as_str(), "alice")
        .await
        .expect("scripted sign-in");
    broker
        .complete_login(&callback)
        .await
        .expect("complete_login");
    Signed { idp, broker, clock }
}

pub fn rotating() -> RefreshRotation {
    RefreshRotation::Rotating {
        overlap: Duration::ZERO,
    }
}

/// `$PORTICO_BENCH_DIR` (set by `cargo xtask bench`), else `target/bench` under the cwd.
pub fn out_dir() -> PathBuf {
    let dir = std::env::var_os("PORTICO_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench"));
    std::fs::create_dir_all(&dir).expect("create the bench output directory");
    dir
}

/// Percentile (nearest rank) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
