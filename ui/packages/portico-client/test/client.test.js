import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createPorticoClient, isAuthError, DEFAULT_MIN_TTL_MS } from "../dist/index.js";
import { FakeTauri, settle, grant } from "./fake-tauri.js";

const BILLING = "https://api.portico.dev/billing";
const ANALYTICS = "https://api.portico.dev/analytics";
const T0 = 1_700_000_000_000;

let fake;
let clock;
let client;

beforeEach(() => {
  fake = new FakeTauri().install();
  fake.on("mfe_subscribe", () => null);
  clock = { t: T0 };
  client = createPorticoClient({ now: () => clock.t });
});

afterEach(() => {
  fake.uninstall();
});

test("a cache hit is served from page memory without any IPC call", async () => {
  fake.on("get_token", ({ audience }) => grant(audience, T0 + 3_600_000));
  const first = await client.getToken(BILLING);
  assert.equal(fake.count("get_token"), 1);
  assert.deepEqual(fake.calls.find((c) => c.cmd === "plugin:portico|get_token").args, { audience: BILLING });
  await settle();
  const callsBefore = fake.calls.length;

  clock.t = T0 + 3_600_000 - DEFAULT_MIN_TTL_MS - 1; // still just above the default min-TTL
  const second = await client.getToken(BILLING);
  assert.equal(second, first);
  assert.equal(fake.calls.length, callsBefore, "no IPC call of any kind on a hit");
});

test("reaching the min-TTL makes the next call go to the shell", async () => {
  let n = 0;
  fake.on("get_token", ({ audience }) => grant(audience, clock.t + 120_000, { accessToken: `at-${++n}` }));
  assert.equal((await client.getToken(BILLING)).accessToken, "at-1");

  clock.t = T0 + 59_000; // 61 s left > 60 s default
  assert.equal((await client.getToken(BILLING)).accessToken, "at-1");
  assert.equal(fake.count("get_token"), 1);

  clock.t = T0 + 60_000; // exactly 60 s left: not more than min-TTL, so refresh
  assert.equal((await client.getToken(BILLING)).accessToken, "at-2");
  assert.equal(fake.count("get_token"), 2);

  // A caller that accepts a shorter remaining life keeps using the cache.
  clock.t = T0 + 60_000 + 100_000; // 20 s left on at-2
  assert.equal((await client.getToken(BILLING, { minTtlMs: 10_000 })).accessToken, "at-2");
  assert.equal(fake.count("get_token"), 2);
  assert.equal((await client.getToken(BILLING)).accessToken, "at-3");

  // Even with minTtlMs 0 an expired token is never served.
  clock.t += 120_000;
  assert.equal((await client.getToken(BILLING, { minTtlMs: 0 })).accessToken, "at-4");
});

test("forceRefresh skips the cache", async () => {
  let n = 0;
  fake.on("get_token", ({ audience }) => grant(audience, T0 + 3_600_000 + ++n));
  await client.getToken(BILLING);
  await client.getToken(BILLING, { forceRefresh: true });
  assert.equal(fake.count("get_token"), 2);
});

test("concurrent calls for the same key share one IPC call", async () => {
  const releases = [];
  fake.on("get_token", ({ audience }) => new Promise((resolve) => releases.push(() => resolve(grant(audience, T0 + 3_600_000)))));

  const same = Array.from({ length: 5 }, () => client.getToken(BILLING));
  const scoped = [client.getToken(BILLING, { scopes: "write:invoices read:invoices" }), client.getToken(BILLING, { scopes: ["read:invoices", "write:invoices"] })];
  const other = client.getToken(ANALYTICS);
  await settle();
  assert.equal(fake.count("get_token"), 3, "one per (audience, scopes) key");
  const scopedArgs = fake.calls.filter((c) => c.cmd === "plugin:portico|get_token").map((c) => c.args.scopes);
  assert.deepEqual(scopedArgs, [undefined, "read:invoices write:invoices", undefined]);

  releases.forEach((release) => release());
  const grants = await Promise.all(same);
  assert.ok(grants.every((g) => g === grants[0]));
  const [s1, s2] = await Promise.all(scoped);
  assert.equal(s1, s2);
  assert.equal((await other).audience, ANALYTICS);
});

test("a failed request is not cached and the next call asks again", async () => {
  let fail = true;
  fake.on("get_token", ({ audience }) => {
    if (fail) return Promise.reject({ kind: "network", message: "connection refused", retryable: true });
    return grant(audience, T0 + 3_600_000);
  });
  const both = await Promise.allSettled([client.getToken(BILLING), client.getToken(BILLING)]);
  assert.equal(fake.count("get_token"), 1);
  assert.ok(both.every((r) => r.status === "rejected" && r.reason.kind === "network"));
  fail = false;
  assert.equal((await client.getToken(BILLING)).audience, BILLING);
  assert.equal(fake.count("get_token"), 2);
});

test("typed errors from the shell reject with their kind and extra fields", async () => {
  const refusal = { kind: "forbidden_audience", message: "billing may not ask for analytics", retryable: false, audience: ANALYTICS };
  fake.on("get_token", () => Promise.reject(refusal));
  await assert.rejects(client.getToken(ANALYTICS), (e) => {
    assert.ok(isAuthError(e));
    assert.equal(e.kind, "forbidden_audience");
    assert.equal(e.message, refusal.message);
    assert.equal(e.retryable, false);
    assert.equal(e.audience, ANALYTICS);
    return true;
  });
});

test("IPC-level refusals and a missing shell become kind 'ipc'", async () => {
  fake.on("get_token", () => Promise.reject("get_token not allowed. Command not found"));
  await assert.rejects(client.getToken(BILLING), (e) => e.kind === "ipc" && /not allowed/.test(e.message) && e.retryable === false);

  fake.on("get_token", () => ({ not: "a grant" }));
  await assert.rejects(client.getToken(BILLING), (e) => e.kind === "ipc" && /malformed/.test(e.message));

  fake.uninstall();
  await assert.rejects(client.getToken(BILLING), (e) => isAuthError(e) && e.kind === "ipc");
  await assert.rejects(client.signIn(), (e) => e.kind === "ipc");
  assert.throws(() => client.onSessionChanged(42), TypeError);
  await assert.rejects(client.getToken(""), TypeError);
});

test("isAuthError accepts tagged errors only", () => {
  assert.equal(isAuthError({ kind: "timeout", message: "slow", retryable: true }), true);
  assert.equal(isAuthError({ kind: "timeout", message: "slow" }), false);
  assert.equal(isAuthError(new Error("x")), false);
  assert.equal(isAuthError("login_required"), false);
  assert.equal(isAuthError(null), false);
});

test("a pushed tokenChanged updates the cache and notifies listeners", async () => {
  fake.on("get_token", ({ audience, scopes }) => grant(audience, T0 + 70_000, scopes ? { scope: scopes } : {}));
  const seen = [];
  client.onTokenChanged((g) => seen.push(g.accessToken));
  await client.getToken(BILLING);
  await client.getToken(BILLING, { scopes: "read:invoices" });
  await client.getToken(BILLING, { scopes: "admin:invoices" });
  assert.equal(fake.count("mfe_subscribe"), 1);
  assert.equal(fake.count("get_token"), 3);

  const pushed = grant(BILLING, T0 + 3_600_000, { accessToken: "pushed", scope: "read:invoices write:invoices" });
  fake.send(fake.channelId(), { type: "tokenChanged", grant: pushed });
  assert.deepEqual(seen, ["pushed"]);

  clock.t = T0 + 30_000; // the fetched tokens are inside the min-TTL now, the pushed one is not
  assert.equal((await client.getToken(BILLING)).accessToken, "pushed");
  assert.equal((await client.getToken(BILLING, { scopes: "read:invoices" })).accessToken, "pushed");
  assert.equal(fake.count("get_token"), 3, "both served from the pushed grant");
  // A grant without the requested scope does not satisfy that request.
  assert.notEqual((await client.getToken(BILLING, { scopes: "admin:invoices" })).accessToken, "pushed");
  assert.equal(fake.count("get_token"), 4);
});

test("a pushed grant is not overwritten by an older in-flight answer", async () => {
  let release;
  fake.on("get_token", ({ audience }) => new Promise((r) => (release = () => r(grant(audience, T0 + 90_000, { accessToken: "old" })))));
  client.onTokenChanged(() => {});
  const pending = client.getToken(BILLING);
  await settle();
  fake.send(fake.channelId(), { type: "tokenChanged", grant: grant(BILLING, T0 + 3_600_000, { accessToken: "new" }) });
  release();
  assert.equal((await pending).accessToken, "old");
  clock.t = T0 + 40_000;
  assert.equal((await client.getToken(BILLING)).accessToken, "new");
  assert.equal(fake.count("get_token"), 1);
});

test("channel messages are delivered in index order, once, until the channel ends", async () => {
  const got = [];
  const off = client.onSessionChanged((s) => got.push(s ? s.name : null));
  client.onRefreshFailed((aud, err) => got.push(`${aud}:${err.kind}`));
  await settle();
  assert.equal(fake.count("mfe_subscribe"), 1, "one channel for all listeners");
  const id = fake.channelId();
  const sess = (name) => ({ type: "sessionChanged", session: { name, email: `${name}@example.com`, subject: name } });

  fake.frame(id, { message: sess("c"), index: 2 });
  fake.frame(id, { message: sess("b"), index: 1 });
  assert.deepEqual(got, [], "held back until index 0 arrives");
  fake.frame(id, { message: sess("a"), index: 0 });
  assert.deepEqual(got, ["a", "b", "c"]);
  fake.frame(id, { message: sess("dup"), index: 1 });
  assert.deepEqual(got, ["a", "b", "c"], "a duplicate index is dropped");

  fake.frame(id, { end: true, index: 5 });
  fake.frame(id, { message: { type: "refreshFailed", audience: BILLING, error: { kind: "network", message: "down", retryable: true } }, index: 4 });
  assert.deepEqual(got, ["a", "b", "c"]);
  fake.frame(id, { message: { type: "sessionChanged", session: null }, index: 3 });
  assert.deepEqual(got, ["a", "b", "c", null, `${BILLING}:network`]);
  assert.equal(fake.callbacks.has(id), false, "callback released after the end frame");

  // Unsubscribed listeners hear nothing; a new listener opens a fresh channel.
  off();
  client.onSessionChanged((s) => got.push(`new:${s.name}`));
  await settle();
  assert.equal(fake.count("mfe_subscribe"), 2);
  fake.send(fake.channelId(1), sess("z"));
  assert.deepEqual(got.slice(5), ["new:z"]);
});

test("a throwing listener does not stop delivery to the others", async () => {
  const got = [];
  const reported = [];
  client = createPorticoClient({ now: () => clock.t, reportError: (e) => reported.push(e.message) });
  client.onSessionChanged(() => {
    throw new Error("listener bug");
  });
  client.onSessionChanged((s) => got.push(s?.subject ?? null));
  await settle();
  const id = fake.channelId();
  fake.send(id, { type: "sessionChanged", session: { name: "A", email: null, subject: "a" } });
  fake.send(id, { type: "sessionChanged", session: null });
  assert.deepEqual(got, ["a", null]);
  assert.deepEqual(reported, ["listener bug", "listener bug"]);
});

test("sign-out clears the cache and in-flight answers from before it are not cached", async () => {
  let n = 0;
  const releases = [];
  fake.on("get_token", ({ audience }) => new Promise((r) => releases.push(() => r(grant(audience, T0 + 3_600_000, { accessToken: `at-${++n}` })))));
  client.onSessionChanged(() => {});
  await settle();
  const id = fake.channelId();
  fake.send(id, { type: "sessionChanged", session: { name: "Ada", email: "ada@example.com", subject: "ada" } });

  const first = client.getToken(BILLING);
  await settle();
  releases.shift()();
  await first;
  const inflight = client.getToken(BILLING, { scopes: "read:invoices" });
  await settle();

  fake.send(id, { type: "sessionChanged", session: null });
  releases.shift()();
  assert.equal((await inflight).accessToken, "at-2");

  const afterSignOut = client.getToken(BILLING);
  await settle();
  assert.equal(fake.count("get_token"), 3, "sign-out dropped the cached token");
  releases.shift()();
  await afterSignOut;
  const scopedAgain = client.getToken(BILLING, { scopes: "read:invoices" });
  await settle();
  assert.equal(fake.count("get_token"), 4, "the answer that raced sign-out was not cached");
  releases.shift()();
  await scopedAgain;

  // The same user again (e.g. a repeated push) keeps the cache.
  fake.send(id, { type: "sessionChanged", session: { name: "Ada", email: "ada@example.com", subject: "ada" } });
  fake.send(id, { type: "sessionChanged", session: { name: "Ada L.", email: "ada@example.com", subject: "ada" } });
  const again = client.getToken(BILLING);
  await settle();
  assert.equal(fake.count("get_token"), 5, "first push after sign-out is a new session");
  releases.shift()();
  await again;
  await client.getToken(BILLING);
  assert.equal(fake.count("get_token"), 5, "a repeated push for the same subject keeps the cache");
});

test("the session snapshot sent when the channel opens keeps a token fetched alongside it", async () => {
  // Like the real shell: mfe_subscribe sends the current session right away.
  fake.on("mfe_subscribe", ({ channel }) => {
    const id = Number(String(channel).split(":")[1]);
    fake.send(id, { type: "sessionChanged", session: { name: "Ada", email: null, subject: "ada" } });
    return null;
  });
  fake.on("get_token", ({ audience }) => new Promise((r) => setTimeout(() => r(grant(audience, T0 + 3_600_000)), 10)));
  const sessions = [];
  client.onSessionChanged((s) => sessions.push(s?.subject));
  await client.getToken(BILLING);
  await client.getToken(BILLING);
  assert.equal(fake.count("get_token"), 1, "the snapshot did not empty the cache");
  assert.deepEqual(sessions, ["ada"], "listeners still learn the current session");

  fake.send(fake.channelId(), { type: "sessionChanged", session: { name: "Bob", email: null, subject: "bob" } });
  const forBob = client.getToken(BILLING);
  assert.equal(fake.count("get_token"), 2, "another user: the cached token is dropped");
  await forBob;
});

test("context() asks once and signIn() asks the shell to sign in", async () => {
  const ctx = { id: "billing", title: "Billing", audiences: [BILLING], settings: { apiUrl: "http://127.0.0.1:9/billing/" } };
  fake.on("mfe_context", () => ctx).on("mfe_sign_in", () => null);
  assert.deepEqual(await client.context(), ctx);
  assert.deepEqual(await client.context(), ctx);
  assert.equal(fake.count("mfe_context"), 1);
  assert.equal(await client.signIn(), undefined);
  assert.equal(fake.count("mfe_sign_in"), 1);
});

test("a failed subscription is retried by the next listener", async () => {
  let allow = false;
  fake.on("mfe_subscribe", () => (allow ? null : Promise.reject("mfe_subscribe not allowed")));
  const got = [];
  client.onSessionChanged((s) => got.push(s));
  await settle();
  const firstId = fake.channelId(0);
  assert.equal(fake.callbacks.has(firstId), false, "the refused channel's callback is released");
  allow = true;
  client.onTokenChanged(() => {});
  await settle();
  assert.equal(fake.count("mfe_subscribe"), 2);
  fake.send(fake.channelId(1), { type: "sessionChanged", session: null });
  assert.deepEqual(got, [null]);
});

test("a step-up request goes to the shell with its requirement, past the page's cache", async () => {
  fake.on("get_token", (args) => grant(args.audience, T0 + 3_600_000, { accessToken: args.acrValues ? "at-mfa" : "at-plain" }));
  assert.equal((await client.getToken(BILLING)).accessToken, "at-plain");
  const stepped = await client.getToken(BILLING, { acrValues: "mfa", maxAge: 300 });
  assert.equal(stepped.accessToken, "at-mfa");
  const sent = fake.calls.filter((c) => c.cmd === "plugin:portico|get_token").map((c) => c.args);
  assert.deepEqual(sent[1], { audience: BILLING, acrValues: ["mfa"], maxAge: 300 });
  // Asked again, the shell answers (its cache knows the sign-in behind a token; the page's does not).
  await client.getToken(BILLING, { acrValues: ["mfa"], maxAge: 300 });
  assert.equal(fake.count("get_token"), 3);
  // A claims object travels as JSON text.
  await client.getToken(BILLING, { claims: { access_token: { acrs: { essential: true, value: "c1" } } } });
  const last = fake.calls.filter((c) => c.cmd === "plugin:portico|get_token").at(-1).args;
  assert.equal(last.claims, '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}');
});
