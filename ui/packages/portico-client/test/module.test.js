// The module-level functions MFEs import share one page-wide client over the real global.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeTauri, settle, grant } from "./fake-tauri.js";

test("module-level functions share one cache and one channel per page", async () => {
  const fake = new FakeTauri().install();
  fake.on("mfe_subscribe", () => null).on("get_token", ({ audience }) => grant(audience, Date.now() + 3_600_000));
  const portico = await import("../dist/index.js");
  const seen = [];
  portico.onTokenChanged((g) => seen.push(g.accessToken));
  portico.onSessionChanged(() => {});
  const a = await portico.getToken("https://api.portico.dev/core");
  const b = await portico.getToken("https://api.portico.dev/core");
  assert.equal(a, b);
  await settle();
  assert.equal(fake.count("get_token"), 1);
  assert.equal(fake.count("mfe_subscribe"), 1);
  fake.send(fake.channelId(), { type: "tokenChanged", grant: grant("https://api.portico.dev/core", Date.now() + 7_200_000, { accessToken: "p" }) });
  assert.deepEqual(seen, ["p"]);
  assert.equal((await portico.getToken("https://api.portico.dev/core")).accessToken, "p");
  fake.uninstall();
});
