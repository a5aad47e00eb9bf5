//! The `portico-dev-idp` binary: JSON line on stdout, admin API when asked, clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

#[tokio::test]
async fn binary_prints_its_urls_serves_admin_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico-dev-idp"))
        .args(["--admin", "--access-ttl", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        line
    })
    .await
    .expect("join");
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    let issuer = info["issuer"].as_str().expect("issuer").to_owned();
    assert!(issuer.starts_with("http://127.0.0.1:"));
    assert_eq!(info["apis"].as_object().expect("apis").len(), 3);
    let http = reqwest::Client::new();

    let d: Value = http
        .get(format!("{issuer}.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(d["issuer"], json!(issuer));
    let api = info["apis"]["https://api.portico.dev/core"]
        .as_str()
        .expect("core url");
    assert_eq!(
        http.get(format!("{api}data"))
            .send()
            .await
            .expect("api")
            .status(),
        401
    );

    // Admin API: arm a fault, see it, clear it, read counters.
    let faults =
        json!([{ "endpoint": "jwks", "kind": { "type": "status", "value": 503 }, "times": 1 }]);
    let r = http
        .put(format!("{issuer}__admin/faults"))
        .json(&faults)
        .send()
        .await
        .expect("admin");
    assert_eq!(r.status(), 204);
    let jwks = format!("{issuer}.well-known/jwks.json");
    assert_eq!(http.get(&jwks).send().await.expect("jwks").status(), 503);
    assert_eq!(http.get(&jwks).send().await.expect("jwks").status(), 200);
    let c: Value = http
        .get(format!("{issuer}__admin/counters"))
        .send()
        .await
        .expect("c")
        .json()
        .await
        .expect("json");
    assert_eq!(c["jwks"], json!(2));
    assert_eq!(c["discovery"], json!(1));
    let k: Value = http
        .post(format!("{issuer}__admin/keys/rotate"))
        .send()
        .await
        .expect("rotate")
        .json()
        .await
        .expect("json");
    let jwks_doc: Value = http
        .get(&jwks)
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks_doc["keys"][1]["kid"], k["kid"]);
    let r = http
        .put(format!("{issuer}__admin/rotation"))
        .json(&json!({"mode": "rotating", "overlap": 2.5}))
        .send()
        .await
        .expect("rotation");
    assert_eq!(r.status(), 204);

    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().expect("wait"))
        .await
        .expect("join");
    assert!(exit.success(), "{exit:?}");
    assert!(
        http.get(&jwks).send().await.is_err(),
        "port closed after exit"
    );
}

#[tokio::test]
async fn admin_api_is_off_by_default_and_bad_flags_fail() {
    let out = Command::new(env!("CARGO_BIN_EXE_portico-dev-idp"))
        .arg("--bogus")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));

    let idp = portico_dev_idp::DevIdp::start(portico_dev_idp::IdpConfig::portico_demo())
        .await
        .expect("idp");
    let r = reqwest::Client::new()
        .get(format!("{}__admin/counters", idp.issuer()))
        .send()
        .await
        .expect("resp");
    assert_eq!(r.status(), 404);
}
