// The host UI's client (what the shell's chrome uses) and the plugin's command names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeTauri, settle } from "./fake-tauri.js";
import { COMMANDS, createHostClient, createPorticoClient, invoke, openChannel } from "../dist/index.js";

test("every client command is a plugin:portico command", () => {
  for (const cmd of Object.values(COMMANDS)) assert.match(cmd, /^plugin:portico\|[a-z_]+$/);
});

test("MFE calls go to plugin:portico|…", async () => {
  const fake = new FakeTauri().install();
  fake.on("mfe_context", () => ({ id: "billing", title: "Billing", audiences: [], scopes: [], settings: {} }));
  const client = createPorticoClient();
  assert.equal((await client.context()).id, "billing");
  assert.deepEqual(fake.calls.map((c) => c.cmd), ["plugin:portico|mfe_context"]);
  fake.uninstall();
});

test("the host client reads the state, subscribes and drives the session", async () => {
  const fake = new FakeTauri().install();
  const state = { session: null, login: "idle", mfes: [], activeMfe: null, provider: { issuer: "x", dialect: "auth0", embedded: true } };
  fake
    .on("host_state", () => state)
    .on("host_subscribe", () => null)
    .on("host_sign_in", () => null)
    .on("host_cancel_sign_in", () => null)
    .on("host_sign_out", () => null)
    .on("host_token_status", () => []);
  const host = createHostClient();
  assert.deepEqual(await host.state(), state);
  const pushes = [];
  const channel = await host.subscribe((p) => pushes.push(p));
  assert.match(channel.arg, /^__CHANNEL__:\d+$/);
  fake.send(fake.channelId(0, "host_subscribe"), { type: "warning", message: "w" });
  assert.deepEqual(pushes, [{ type: "warning", message: "w" }]);
  await host.signIn();
  await host.cancelSignIn();
  await host.signOut();
  assert.deepEqual(await host.tokenStatus(), []);
  for (const cmd of ["host_sign_in", "host_cancel_sign_in", "host_sign_out"]) assert.equal(fake.count(cmd), 1, cmd);
  fake.uninstall();
});

test("the host client's refusals are typed", async () => {
  const fake = new FakeTauri().install();
  fake.on("host_sign_out", () => Promise.reject("plugin:portico|host_sign_out not allowed"));
  await assert.rejects(createHostClient().signOut(), (e) => e.kind === "ipc" && /not allowed/.test(e.message));
  fake.uninstall();
  await assert.rejects(createHostClient().state(), (e) => e.kind === "ipc");
});

test("invoke and openChannel serve the host's own app commands", async () => {
  const fake = new FakeTauri().install();
  fake.on("shell_select_mfe", ({ id }) => (id === "x" ? null : Promise.reject({ kind: "config_invalid", message: "m", retryable: false, reason: "r" })));
  assert.equal(await invoke("shell_select_mfe", { id: "x" }), null);
  await assert.rejects(invoke("shell_select_mfe", { id: "y" }), (e) => e.kind === "config_invalid");
  const seen = [];
  const ch = openChannel((m) => seen.push(m));
  const id = Number(ch.arg.split(":")[1]);
  fake.send(id, 1);
  fake.send(id, 2);
  await settle();
  assert.deepEqual(seen, [1, 2]);
  ch.close();
  fake.uninstall();
});
