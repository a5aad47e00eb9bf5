//! Plain HTTP/1.1 on loopback for the benchmarks, std only: a client for tauri-driver's WebDriver
//! API and the dev-idp (sign-in form, admin counters), and the listener the benchmark MFEs report
//! to. Loopback only; nothing here speaks TLS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("not JSON (HTTP {}): {:.300}", self.status, self.text()))
    }
}

/// `http://host:port/path?query` → (`host:port`, `/path?query`).
fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("only http:// URLs on loopback: {url:.80}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_string()))
}

/// One request on a fresh connection (`Connection: close`).
pub fn request(
    method: &str,
    url: &str,
    body: Option<(&str, &[u8])>,
    timeout: Duration,
) -> Result<Response> {
    let (authority, path) = split_url(url)?;
    let mut stream =
        TcpStream::connect(&authority).with_context(|| format!("connect to {authority}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nAccept: */*\r\n"
    );
    if let Some((ctype, bytes)) = body {
        head.push_str(&format!(
            "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
            bytes.len()
        ));
    } else if method != "GET" && method != "DELETE" {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some((_, bytes)) = body {
        stream.write_all(bytes)?;
    }
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("{method} {authority}: reading the response"))?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of HTTP headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line `{status_line:.80}`"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk header")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

pub fn get_json(url: &str) -> Result<serde_json::Value> {
    request("GET", url, None, Duration::from_secs(30))?.json()
}

pub fn post_json(url: &str, body: &serde_json::Value, timeout: Duration) -> Result<Response> {
    request(
        "POST",
        url,
        Some(("application/json", body.to_string().as_bytes())),
        timeout,
    )
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn form_encode(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a benchmark MFE reported: which MFE, what (`token`, `shown`, `error:<kind>`), the page's
/// wall-clock time (Unix ms) and when the report arrived here.
#[derive(Debug, Clone)]
pub struct Report {
    pub mfe: String,
    pub what: String,
    pub at_unix_ms: f64,
    pub arrived: Instant,
}

/// The loopback listener the benchmark MFEs report to (`GET /ready?mfe=&what=&at=`).
pub struct ReadyListener {
    pub url: String,
    reports: Arc<Mutex<Vec<Report>>>,
}

impl ReadyListener {
    pub fn start() -> Result<ReadyListener> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind the report listener")?;
        let url = format!("http://{}/ready", listener.local_addr()?);
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&reports);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || serve_report(stream, &sink));
            }
        });
        Ok(ReadyListener { url, reports })
    }

    pub fn clear(&self) {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub fn reports(&self) -> Vec<Report> {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wait until each of `mfes` reported once; returns those reports (first per MFE).
    pub fn wait_for(&self, mfes: &[&str], limit: Duration) -> Result<Vec<Report>> {
        let start = Instant::now();
        loop {
            let all = self.reports();
            let firsts: Vec<Report> = mfes
                .iter()
                .filter_map(|m| all.iter().find(|r| r.mfe == *m).cloned())
                .collect();
            if firsts.len() == mfes.len() {
                return Ok(firsts);
            }
            if start.elapsed() > limit {
                let seen: Vec<String> = all
                    .iter()
                    .map(|r| format!("{}={}", r.mfe, r.what))
                    .collect();
                bail!(
                    "timed out after {limit:?} waiting for MFE reports from {mfes:?}; got [{}]",
                    seen.join(", ")
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Reads a request's head and returns its target (`/path?query`, empty if the request line has
/// none), or `None` if nothing could be read; the headers are drained so the client sees a clean
/// response.
fn read_request_target(stream: &TcpStream) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut header = String::new();
    while reader
        .read_line(&mut header)
        .map(|n| n > 2)
        .unwrap_or(false)
    {
        header.clear();
    }
    Some(
        line.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
    )
}

fn serve_report(stream: TcpStream, sink: &Mutex<Vec<Report>>) {
    let arrived = Instant::now();
    let Some(target) = read_request_target(&stream) else {
        return;
    };
    if let Some((path, query)) = target.split_once('?') {
        if path == "/ready" {
            let mut mfe = String::new();
            let mut what = String::new();
            let mut at = f64::NAN;
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let v = percent_decode(v);
                match k {
                    "mfe" => mfe = v,
                    "what" => what = v,
                    "at" => at = v.parse().unwrap_or(f64::NAN),
                    _ => {}
                }
            }
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(Report {
                mfe,
                what,
                at_unix_ms: at,
                arrived,
            });
        }
    }
    let mut w = &stream;
    let _ = w.write_all(
        b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n",
    );
}

/// A static site on its own loopback origin: `dir`'s files, plus the shell's client module at
/// `/_portico/client.js` (the same file the shell serves to bundled MFEs).
pub struct StaticSite {
    pub origin: String,
}

impl StaticSite {
    pub fn start(dir: std::path::PathBuf, client_js: std::path::PathBuf) -> Result<StaticSite> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind a static site")?;
        let origin = format!("http://{}", listener.local_addr()?);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (dir, client_js) = (dir.clone(), client_js.clone());
                std::thread::spawn(move || serve_static(stream, &dir, &client_js));
            }
        });
        Ok(StaticSite { origin })
    }
}

fn serve_static(stream: TcpStream, dir: &std::path::Path, client_js: &std::path::Path) {
    let Some(target) = read_request_target(&stream) else {
        return;
    };
    let target = if target.is_empty() { "/" } else { &target };
    let path = target.split('?').next().unwrap_or("/");
    let file = if path == "/_portico/client.js" {
        Some(client_js.to_path_buf())
    } else {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "index.html" } else { rel };
        // Plain names only: this serves two folders of the repository, nothing else.
        rel.split('/')
            .all(|s| !s.is_empty() && s != ".." && s != "." && !s.contains('%'))
            .then(|| dir.join(rel))
    };
    let mut w = &stream;
    match file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) {
        Some((f, body)) => {
            let ctype = match f.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                _ => "application/octet-stream",
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = w.write_all(head.as_bytes());
            let _ = w.write_all(&body);
        }
        None => {
            let _ = w.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}
