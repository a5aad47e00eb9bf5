// dist/ is committed (the shell serves dist/index.js to MFEs), so it must match src/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");

test("committed dist/ is what tsc builds from src/", () => {
  const tsc = join(pkg, "node_modules", "typescript", "bin", "tsc");
  assert.ok(existsSync(tsc), "typescript is not installed: run `npm ci` in ui/packages/portico-client");
  const out = mkdtempSync(join(tmpdir(), "portico-client-dist-"));
  try {
    execFileSync(process.execPath, [tsc, "-p", join(pkg, "tsconfig.json"), "--outDir", out], { stdio: "pipe" });
    const built = readdirSync(out).sort();
    const committed = readdirSync(join(pkg, "dist")).sort();
    assert.deepEqual(committed, built, "dist/ has different files than a fresh build");
    for (const file of built) {
      assert.equal(
        readFileSync(join(pkg, "dist", file), "utf8"),
        readFileSync(join(out, file), "utf8"),
        `dist/${file} is stale: run \`npm run build\` in ui/packages/portico-client`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("dist/index.js has no imports at runtime (loadable as /_portico/client.js alone)", () => {
  const js = readFileSync(join(pkg, "dist", "index.js"), "utf8");
  assert.doesNotMatch(js, /^\s*import\s/m);
  assert.doesNotMatch(js, /\brequire\(/);
});

test("the host serves exactly dist/index.js at /_portico/client.js", () => {
  const served = join(pkg, "..", "..", "web", "_portico", "client.js");
  assert.equal(readFileSync(served, "utf8"), readFileSync(join(pkg, "dist", "index.js"), "utf8"));
});
