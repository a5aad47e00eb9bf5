#!/usr/bin/env python3
"""PREVIEW HARNESS ONLY: a static server for looking at ui/ pages in a plain browser.

Serves ui/ on 127.0.0.1, plus what the real shell provides to MFEs:
  /_portico/client.js        -> packages/portico-client/dist/index.js
  /demo-api/<name>/data      -> sample JSON shaped like the dev-idp demo APIs (needs a Bearer header)
and, for HTML pages requested with ?scenario=..., injects /dev/fake-tauri.js (a scripted shell).

  python3 ui/dev/preview-server.py [port]
  open http://127.0.0.1:8765/shell/index.html?scenario=signed-in&drawer=tokens
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

SAMPLES = {
    "billing": {
        "invoices": [
            {"id": "INV-2041", "customer": "Northwind Traders", "amount": 12480.00, "currency": "EUR", "status": "paid", "due": "2025-05-02"},
            {"id": "INV-2042", "customer": "Contoso Ltd", "amount": 3920.50, "currency": "EUR", "status": "open", "due": "2025-05-18"},
            {"id": "INV-2043", "customer": "Fabrikam Inc", "amount": 780.00, "currency": "EUR", "status": "overdue", "due": "2025-04-21"},
            {"id": "INV-2044", "customer": "Tailspin Toys", "amount": 15210.00, "currency": "EUR", "status": "open", "due": "2025-06-01"},
            {"id": "INV-2045", "customer": "Wingtip Cycles", "amount": 2240.75, "currency": "EUR", "status": "paid", "due": "2025-04-30"},
        ]
    },
    "core": {
        "kpis": [
            {"label": "Active users", "value": 12842, "unit": "", "delta": 0.064},
            {"label": "Monthly revenue", "value": 184300, "unit": "EUR", "delta": 0.021},
            {"label": "Churn", "value": 0.018, "unit": "%", "delta": -0.004},
            {"label": "Open tickets", "value": 37, "unit": "", "delta": 0.12},
        ]
    },
    "analytics": {
        "series": [
            {"label": "Mon", "value": 312},
            {"label": "Tue", "value": 428},
            {"label": "Wed", "value": 391},
            {"label": "Thu", "value": 502},
            {"label": "Fri", "value": 466},
            {"label": "Sat", "value": 214},
            {"label": "Sun", "value": 188},
        ],
        "metric": "Sessions",
    },
}


class Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(UI), **kwargs)

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
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
