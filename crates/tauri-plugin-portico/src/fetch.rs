//! The `fetch` command's glue between IPC and `Broker::fetch`: the page's request read from raw
//! JSON with typed errors, the caller's APIs from the registry, aborts keyed by the calling
//! webview, and the answer framed as one raw IPC body (head as JSON, then the bytes), so a
//! 100 KiB response crosses IPC as bytes, not as base64 inside JSON.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use portico_broker::fetch::{ApiRoute, FetchCaller, FetchInput, FetchOutput};
use portico_broker::{AuthError, FetchDefect};
use portico_shell_core::MfeEntry;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::desktop::Portico;
use crate::models::{FetchHead, FetchRequest};

/// Longest abort id a page may choose (it is only a key).
const MAX_ABORT_ID: usize = 128;

fn invalid(detail: impl Into<String>) -> AuthError {
    AuthError::FetchRefused {
        reason: FetchDefect::InvalidRequest,
        detail: detail.into(),
    }
}

/// The page's request, from the command's raw `request` argument.
pub(crate) fn fetch_request(request: Option<&Value>) -> Result<FetchRequest, AuthError> {
    let Some(value) = request.filter(|v| !v.is_null()) else {
        return Err(invalid(
            "`request` is required: the URL, method, headers and body",
        ));
    };
    let request: FetchRequest = serde_json::from_value(value.clone())
        .map_err(|e| invalid(format!("`request` is not a fetch request: {e}")))?;
    if request
        .abort_id
        .as_ref()
        .is_some_and(|id| id.is_empty() || id.len() > MAX_ABORT_ID)
    {
        return Err(invalid(format!(
            "`abortId` must have 1 to {MAX_ABORT_ID} characters"
        )));
    }
    Ok(request)
}

/// The broker's input from the page's request (the body is standard base64 on the wire).
pub(crate) fn fetch_input(request: &FetchRequest) -> Result<FetchInput, AuthError> {
    let body = match &request.body {
        None => None,
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| invalid(format!("`body` is not base64: {e}")))?,
        ),
    };
    Ok(FetchInput {
        url: request.url.clone(),
        method: request.method.clone().unwrap_or_default(),
        headers: request.headers.clone(),
        body,
    })
}

/// The calling MFE's APIs, each with the most it may hold there. `admits` is the webview's
/// audience scope: an audience a host capability denies is not reachable by fetch either.
pub(crate) fn fetch_caller(
    portico: &Portico,
    mfe: &MfeEntry,
    admits: impl Fn(&str) -> bool,
) -> Result<FetchCaller, AuthError> {
    let mut routes = Vec::with_capacity(mfe.apis.len());
    for api in mfe.apis.iter().filter(|a| admits(a.audience.as_str())) {
        routes.push(ApiRoute {
            base: api.base.clone(),
            audience: api.audience.clone(),
            ceiling: portico.ceiling(mfe, &api.audience)?,
        });
    }
    Ok(FetchCaller {
        id: mfe.id.clone(),
        routes,
    })
}

/// The answer as one body: 4 bytes of big-endian head length, the head as JSON, the body.
pub(crate) fn frame(output: FetchOutput) -> Result<Vec<u8>, AuthError> {
    let head = FetchHead {
        status: output.status,
        status_text: output.status_text,
        headers: output.headers,
        url: output.url,
        redirected: output.redirected,
    };
    let head = serde_json::to_vec(&head).map_err(|e| AuthError::Internal {
        reason: format!("the fetch answer could not be encoded: {e}"),
    })?;
    let len = u32::try_from(head.len()).map_err(|_| AuthError::Internal {
        reason: "the fetch answer's headers are too large".into(),
    })?;
    let mut framed = Vec::with_capacity(4 + head.len() + output.body.len());
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&head);
    framed.extend_from_slice(&output.body);
    Ok(framed)
}

/// Running fetches a page may abort, keyed by its webview's label and the id it chose: one
/// page can never abort another's request.
#[derive(Default)]
pub(crate) struct Aborts {
    running: Mutex<HashMap<(String, String), oneshot::Sender<()>>>,
}

impl Aborts {
    /// Registers `(label, id)`; the receiver completes when the page aborts. A second request
    /// with the same id replaces the first's handle (the first can no longer be aborted).
    pub(crate) fn register(&self, label: &str, id: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert((label.to_owned(), id.to_owned()), tx);
        rx
    }

    /// Aborts `(label, id)` if it is still running; whether it was.
    pub(crate) fn abort(&self, label: &str, id: &str) -> bool {
        match self.lock().remove(&(label.to_owned(), id.to_owned())) {
            Some(tx) => tx.send(()).is_ok(),
            None => false,
        }
    }

    pub(crate) fn finish(&self, label: &str, id: &str) {
        self.lock().remove(&(label.to_owned(), id.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), oneshot::Sender<()>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_of_the_wrong_shape_is_a_typed_refusal() {
        for bad in [
            None,
            Some(json!(null)),
            Some(json!("https://api.example.com/")),
            Some(json!({ "method": "GET" })),
            Some(json!({ "url": "https://a.example/", "headers": { "a": "b" } })),
            Some(json!({ "url": "https://a.example/", "abortId": "" })),
        ] {
            let e = fetch_request(bad.as_ref()).unwrap_err();
            assert_eq!(e.kind(), "fetch_refused", "{bad:?}");
            assert!(
                e.to_string().contains("request") || e.to_string().contains("abortId"),
                "{e}"
            );
        }
        let r = fetch_request(Some(&json!({ "url": "https://a.example/", "body": "%%" }))).unwrap();
        assert_eq!(fetch_input(&r).unwrap_err().kind(), "fetch_refused");
    }

    #[test]
    fn a_request_is_read_with_its_headers_and_body() {
        let r = fetch_request(Some(&json!({
            "url": "https://a.example/x",
            "method": "POST",
            "headers": [["content-type", "application/json"]],
            "body": "eyJhIjoxfQ==",
            "abortId": "7",
        })))
        .unwrap();
        let input = fetch_input(&r).unwrap();
        assert_eq!(input.method, "POST");
        assert_eq!(
            input.headers,
            vec![("content-type".into(), "application/json".into())]
        );
        assert_eq!(input.body.as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(r.abort_id.as_deref(), Some("7"));
    }

    #[test]
    fn the_answer_is_framed_head_then_body() {
        let framed = frame(FetchOutput {
            status: 200,
            status_text: "OK".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"hello".to_vec(),
            url: "https://a.example/x".into(),
            redirected: false,
        })
        .unwrap();
        let len = u32::from_be_bytes([framed[0], framed[1], framed[2], framed[3]]) as usize;
        let head: Value = serde_json::from_slice(&framed[4..4 + len]).unwrap();
        assert_eq!(head["status"], 200);
        assert_eq!(head["statusText"], "OK");
        assert_eq!(&framed[4 + len..], b"hello");
    }

    #[test]
    fn an_abort_reaches_only_the_page_that_started_the_request() {
        let aborts = Aborts::default();
        let mut rx = aborts.register("mfe-billing", "1");
        assert!(!aborts.abort("mfe-analytics", "1"), "another page's id");
        assert!(rx.try_recv().is_err());
        assert!(aborts.abort("mfe-billing", "1"));
        assert!(rx.try_recv().is_ok());
        assert!(!aborts.abort("mfe-billing", "1"), "aborted once");
    }
}
