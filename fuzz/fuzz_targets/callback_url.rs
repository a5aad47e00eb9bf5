//! Callback URL parsing and validation: whatever arrives by deep link or on the loopback port.
//! Invariants: no panic; a callback is accepted only for our redirect URI (scheme, host, port,
//! path), with exactly our `state`, with the configured `iss` when RFC 9207 is required, and with
//! a non-empty code; provider error texts come back sanitized; refusals serialize as typed errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_broker::fuzzing::{self, CallbackVerdict};
use url::Url;

/// RFC 6749 error / error_description characters.
fn allowed(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

fn check_accepted(input: &str, index: usize) {
    assert!(input.len() <= 8192, "overlong callback accepted");
    let url = Url::parse(input).expect("an accepted callback parses");
    let expected = Url::parse(fuzzing::REDIRECTS[index / 2]).expect("fixed redirect");
    assert_eq!(url.scheme(), expected.scheme());
    assert_eq!(url.host_str(), expected.host_str());
    assert_eq!(
        url.port_or_known_default(),
        expected.port_or_known_default()
    );
    assert_eq!(url.path(), expected.path());
    let values = |name: &str| -> Vec<String> {
        url.query_pairs()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    };
    assert_eq!(values("state"), vec![fuzzing::STATE.to_string()]);
    let iss = values("iss");
    assert!(iss.len() <= 1);
    if index % 2 == 1 {
        assert_eq!(iss, vec![fuzzing::ISSUER.to_string()], "iss required");
    } else if let Some(i) = iss.first() {
        assert_eq!(i, fuzzing::ISSUER);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for (i, verdict) in fuzzing::callback(&text).into_iter().enumerate() {
        match verdict {
            CallbackVerdict::Code(code) => {
                check_accepted(&text, i);
                assert!(!code.is_empty());
                assert!(!code.contains('\u{FFFD}'));
            }
            CallbackVerdict::Denied { error, description } => {
                check_accepted(&text, i);
                assert!(!error.is_empty() && error.chars().count() <= 64);
                assert!(error.chars().all(allowed), "{error:?}");
                if let Some(d) = description {
                    assert!(d.chars().count() <= 256 && d.chars().all(allowed), "{d:?}");
                }
            }
            CallbackVerdict::Rejected(e) => {
                let v = serde_json::to_value(&e).expect("errors serialize");
                assert_eq!(v["kind"], e.kind());
                assert!(!e.retryable(), "a bad callback is never worth retrying");
            }
        }
    }
});
