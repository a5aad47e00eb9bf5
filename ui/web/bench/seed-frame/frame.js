// One MFE page of the seed design (see ../seed/seed.js), in a cross-origin iframe: it asks the
// shell page for its token with the article's getTokenFromShell and reports, like the bench's
// `mfe/` page, once it holds it. Its id, audience, the shell's origin and where to report come in
// the query string.
const q = new URL(location.href).searchParams;
const SHELL_ORIGIN = q.get("shell");
const status = document.getElementById("status");

const getTokenFromShell = (audience, limitMs) =>
  new Promise((resolve) => {
    window.parent.postMessage({ type: "GET_TOKEN", audience }, SHELL_ORIGIN);
    const handler = (event) => {
      if (event.origin !== SHELL_ORIGIN || event.data?.type !== "TOKEN_RESPONSE") return;
      window.removeEventListener("message", handler);
      clearTimeout(timer);
      resolve(event.data);
    };
    window.addEventListener("message", handler);
    const timer = setTimeout(() => {
      window.removeEventListener("message", handler);
      resolve({ token: null, error: "timeout" });
    }, limitMs);
  });

function report(what) {
  const at = performance.timeOrigin + performance.now();
  status.textContent = what;
  const url = new URL(q.get("report"));
  url.searchParams.set("mfe", q.get("mfe"));
  url.searchParams.set("what", what);
  url.searchParams.set("at", String(at));
  fetch(url, { mode: "no-cors", cache: "no-store" }).catch(() => undefined);
}

if (SHELL_ORIGIN && window.parent !== window) {
  // The shell page waits for the session itself, so one request is enough.
  const answer = await getTokenFromShell(q.get("audience"), 60000);
  report(typeof answer.token === "string" && answer.token ? "token" : `error:${answer.error ?? "no_token"}`);
}
