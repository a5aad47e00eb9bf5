#!/usr/bin/env python3
"""PREVIEW HARNESS ONLY: a static server for looking at ui/ pages in a plain browser.

Serves ui/web/ on 127.0.0.1, plus what the real shell provides to MFEs:
  /_portico/client.js        -> packages/portico-client/dist/index.js
  /demo-api/<name>/data      -> sample JSON shaped like the dev-idp demo APIs (needs a Bearer header)
and, for HTML pages requested with ?scenario=..., injects /dev/fake-tauri.js (a scripted shell).

  python3 ui/dev/preview-server.py [port] [--root mfes/billing]  (folders below ui/web)
  open http://127.0.0.1:8765/shell/index.html?scenario=signed-in&drawer=tokens

--root serves one folder at / the way the shell's MFE host does (then add &mfe=<id> to the URL).
"""

import json
import sys
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse, parse_qs

UI = Path(__file__).resolve().parent.parent
CLIENT = UI / "packages" / "portico-client" / "dist" / "index.js"
INJECT = b'<script src="/dev/fake-tauri.js"></script>'

# Same shapes as the dev-idp demo APIs (crates/dev-idp/src/apis.rs, demo_data).
SAMPLES = {
    "billing": {
        "invoices": [
            {"id": "INV-1001", "customer": "Acme GmbH", "amount": 1200.0, "currency": "EUR", "status": "paid"},
            {"id": "INV-1002", "customer": "Globex", "amount": 830.5, "currency": "EUR", "status": "open"},
            {"id": "INV-1003", "customer": "Initech", "amount": 99.0, "currency": "EUR", "status": "overdue"},
        ]
    },
    "core": {
        "dashboard": {
            "active_users": 42,
            "open_tickets": 7,
            "uptime_percent": 99.95,
            "announcements": ["Maintenance window Sunday 02:00 UTC"],
        }
    },
    "analytics": {
        "reports": [
            {"id": "r-weekly", "title": "Weekly active users", "points": [31, 35, 40, 42]},
            {"id": "r-revenue", "title": "Revenue by month", "points": [10.5, 12.25, 11.0, 14.75]},
        ]
    },
}


ROOT = UI / "web"


class Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(ROOT), **kwargs)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Authorization")
        self.end_headers()

    def send_body(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if url.path == "/_portico/client.js":
            return self.send_body(200, "text/javascript", CLIENT.read_bytes())
        if len(parts) == 3 and parts[0] == "demo-api" and parts[2] == "data":
            return self.demo_api(parts[1])
        path = Path(self.translate_path(url.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix == ".html" and "scenario" in parse_qs(url.query) and path.is_file():
            html = path.read_bytes().replace(b"<head>", b"<head>" + INJECT, 1)
            return self.send_body(200, "text/html; charset=utf-8", html)
        return super().do_GET()

    def demo_api(self, name):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or name not in SAMPLES:
            body = json.dumps({"error": "invalid_token"}).encode()
            return self.send_body(401, "application/json", body)
        time.sleep(0.15)
        aud = f"https://api.portico.dev/{name}"
        body = json.dumps(
            {
                "api": f"{name.capitalize()} API",
                "audience": aud,
                "data": SAMPLES[name],
                "claims": {"aud": aud, "sub": "auth0|65f1c0ffee42a1", "iss": "http://127.0.0.1:47100/"},
            }
        ).encode()
        return self.send_body(200, "application/json", body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--root" in args:
        i = args.index("--root")
        ROOT = (UI / "web" / args[i + 1]).resolve()
        del args[i : i + 2]
    FAKE = (UI / "dev" / "fake-tauri.js").read_bytes()
    _get = Handler.do_GET

    def do_GET(self, _get=_get):
        if urlparse(self.path).path == "/dev/fake-tauri.js":
            return self.send_body(200, "text/javascript", FAKE)
        return _get(self)

    Handler.do_GET = do_GET
    port = int(args[0]) if args else 8765
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
