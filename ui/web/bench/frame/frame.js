// Part 2 (d) of `cargo xtask bench`, iframe side: the seed article's getTokenFromShell, run from
// a cross-origin iframe. The shell page's origin comes in the `shell` query parameter; without
// it (the page loaded on its own, in its own webview) this page does nothing.
const SHELL_ORIGIN = new URL(location.href).searchParams.get("shell");

const getTokenFromShell = (audience) =>
  new Promise((resolve) => {
    // Post message to the shell application.
    window.parent.postMessage({ type: "GET_TOKEN", audience }, SHELL_ORIGIN);
    // Listen for the response, from the shell's origin only.
    const handler = (event) => {
      if (event.origin !== SHELL_ORIGIN) return;
      if (event.data?.type === "TOKEN_RESPONSE") {
        window.removeEventListener("message", handler);
        clearTimeout(timer);
        resolve(event.data.token);
      }
    };
    window.addEventListener("message", handler);
    // Timeout after 1 second.
    const timer = setTimeout(() => {
      window.removeEventListener("message", handler);
      resolve(null);
    }, 1000);
  });

if (SHELL_ORIGIN && window.parent !== window) {
  window.addEventListener("message", async (event) => {
    if (event.origin !== SHELL_ORIGIN || event.data?.type !== "BENCH_RUN") return;
    const { audience, n } = event.data;
    const each = new Array(n);
    let failures = 0;
    const start = performance.now();
    let last = start;
    for (let i = 0; i < n; i++) {
      const token = await getTokenFromShell(audience);
      if (typeof token !== "string" || token.length === 0) failures += 1;
      const t = performance.now();
      each[i] = t - last;
      last = t;
    }
    window.parent.postMessage({ type: "BENCH_DONE", total: last - start, each, failures }, SHELL_ORIGIN);
  });
  window.parent.postMessage({ type: "FRAME_READY" }, SHELL_ORIGIN);
}
