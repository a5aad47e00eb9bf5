// The client's `fetch`: how a page's request is put on the wire for the plugin's `fetch`
// command, how the plugin's raw answer becomes a Response-like object, and aborts. The plugin
// side is scripted (see fake-tauri.js); the Rust side is tested in the plugin and in tests/.
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createPorticoClient, decodeFetchAnswer, isAuthError } from "../dist/index.js";
import { FakeTauri, settle } from "./fake-tauri.js";

const API = "http://127.0.0.1:4100/analytics/";

let fake;
let client;

beforeEach(() => {
  fake = new FakeTauri().install();
  client = createPorticoClient();
});

afterEach(() => {
  fake.uninstall();
});

/** The plugin's framing: 4-byte big-endian head length, the head as JSON, the body. */
function answer(head, body = new Uint8Array()) {
  const h = new TextEncoder().encode(JSON.stringify({ statusText: "", headers: [], url: API, redirected: false, ...head }));
  const out = new Uint8Array(4 + h.length + body.length);
  new DataView(out.buffer).setUint32(0, h.length);
  out.set(h, 4);
  out.set(body, 4 + h.length);
  return out.buffer;
}

function decode(b64) {
  return Buffer.from(b64, "base64");
}

test("a JSON body is sent as base64 with its content type, and the answer reads like a Response", async () => {
  let seen;
  fake.on("fetch", ({ request }) => {
    seen = request;
    return answer(
      { status: 201, statusText: "Created", headers: [["content-type", "application/json"], ["x-a", "1"], ["x-a", "2"]] },
      new TextEncoder().encode('{"ok":true}'),
    );
  });
  const res = await client.fetch(`${API}reports`, { method: "post", headers: { "X-Trace": "t1" }, body: { n: 1 } });
  assert.equal(seen.url, `${API}reports`);
  assert.equal(seen.method, "POST");
  assert.deepEqual(seen.headers, [["X-Trace", "t1"], ["content-type", "application/json"]]);
  assert.equal(decode(seen.body).toString(), '{"n":1}');
  assert.equal(seen.abortId, undefined, "no signal, nothing to abort");
  assert.equal(res.status, 201);
  assert.equal(res.statusText, "Created");
  assert.equal(res.ok, true);
  assert.equal(res.headers.get("Content-Type"), "application/json");
  assert.equal(res.headers.get("x-a"), "1, 2");
  assert.equal(res.headers.get("x-missing"), null);
  assert.deepEqual(await res.json(), { ok: true });
  assert.equal(res.bodyUsed, true);
  await assert.rejects(() => res.text(), TypeError, "a body is read once");
});

test("bytes go out and come back as bytes; a page's own content type is kept", async () => {
  const sent = new Uint8Array(70_000).map((_, i) => i % 251);
  let seen;
  fake.on("fetch", ({ request }) => {
    seen = request;
    return answer({ status: 200 }, request.body ? decode(request.body) : undefined);
  });
  const res = await client.fetch(API, { method: "PUT", headers: [["Content-Type", "application/octet-stream"]], body: sent });
  assert.deepEqual(seen.headers, [["Content-Type", "application/octet-stream"]]);
  const back = new Uint8Array(await res.arrayBuffer());
  assert.deepEqual(back, sent);

  await client.fetch(API, { method: "POST", body: new URLSearchParams({ a: "1 2" }) });
  assert.equal(decode(seen.body).toString(), "a=1+2");
  assert.deepEqual(seen.headers, [["content-type", "application/x-www-form-urlencoded;charset=UTF-8"]]);
  await client.fetch({ url: API });
  assert.equal(seen.method, "GET");
  assert.equal(seen.body, undefined);
});

test("the shell's typed refusal reaches the page as it is", async () => {
  fake.on("fetch", () => {
    throw { kind: "fetch_refused", reason: "not_an_api", message: "Portico did not complete this request: no.", retryable: false };
  });
  await assert.rejects(
    () => client.fetch("https://evil.test/"),
    (e) => isAuthError(e) && e.kind === "fetch_refused" && e.reason === "not_an_api",
  );
});

test("aborting rejects with fetch_aborted and tells the shell which request to stop", async () => {
  let release;
  fake.on("fetch", () => new Promise((r) => (release = r)));
  const aborts = [];
  fake.on("fetch_abort", ({ abortId }) => {
    aborts.push(abortId);
    release(answer({ status: 200 }));
    return true;
  });
  const controller = new AbortController();
  const pending = client.fetch(API, { signal: controller.signal });
  await settle();
  const id = fake.calls.find((c) => c.cmd === "plugin:portico|fetch").args.request.abortId;
  assert.equal(typeof id, "string");
  controller.abort();
  await assert.rejects(pending, (e) => isAuthError(e) && e.kind === "fetch_aborted");
  await settle();
  assert.deepEqual(aborts, [id]);

  const before = fake.calls.length;
  await assert.rejects(
    client.fetch(API, { signal: controller.signal }),
    (e) => e.kind === "fetch_aborted",
    "an already aborted signal",
  );
  assert.equal(fake.calls.length, before, "no IPC for an already aborted signal");
});

test("an answer that is not the plugin's framing is a typed ipc error", () => {
  for (const raw of [null, "text", new Uint8Array([0, 0]).buffer, new Uint8Array([0, 0, 0, 9, 1]).buffer]) {
    assert.throws(() => decodeFetchAnswer(raw), (e) => isAuthError(e) && e.kind === "ipc");
  }
  const ok = decodeFetchAnswer(Array.from(new Uint8Array(answer({ status: 204 }))));
  assert.equal(ok.status, 204);
});
