// Start-up and memory benchmarks of `cargo xtask bench`: a minimal MFE. With `settings.auth` it
// reports once it holds a token for its own audience (waiting for the session like the sample
// MFEs do); without, once it is shown. `settings.signIn` lets one MFE start the sign-in, as a
// person pressing "Sign in" would. Reports go to the bench's loopback listener. With
// `settings.soakEverySecs` (`cargo xtask soak`) it then keeps working like a busy MFE: every so
// many seconds it gets its token and calls its API (`settings.apiUrl`) with it, and reports how
// each call ended.
import { context, getToken, isAuthError, onSessionChanged, signIn } from "/_portico/client.js";

const status = document.getElementById("status");

function report(settings, id, what) {
  // Wall-clock time, so the bench can line it up with when it started the app.
  const at = performance.timeOrigin + performance.now();
  status.textContent = what;
  const url = new URL(settings.report);
  url.searchParams.set("mfe", id);
  url.searchParams.set("what", what);
  url.searchParams.set("at", String(at));
  fetch(url, { mode: "no-cors", cache: "no-store" }).catch(() => undefined);
}

const ctx = await context();
const settings = ctx.settings ?? {};
if (!settings.auth) {
  report(settings, ctx.id, "shown");
} else {
  const audience = ctx.audiences[0];
  let done = false;
  let trying = false;
  let again = false;
  const attempt = async () => {
    if (done) return;
    if (trying) {
      // A session arrived while an attempt was being refused: try once more after it.
      again = true;
      return;
    }
    trying = true;
    do {
      again = false;
      try {
        await getToken(audience);
        done = true;
        report(settings, ctx.id, "token");
      } catch (e) {
        if (!(isAuthError(e) && e.kind === "login_required")) {
          done = true;
          report(settings, ctx.id, `error:${isAuthError(e) ? e.kind : "unknown"}`);
        }
      }
    } while (!done && again);
    trying = false;
  };
  // Listen first: a session restored while the first attempt is refused still gets through.
  onSessionChanged((session) => {
    if (session) attempt();
  });
  await attempt();
  if (!done && settings.signIn) signIn().catch(() => undefined);
  if (settings.soakEverySecs) {
    setInterval(() => soakCall(settings, ctx.id, audience), settings.soakEverySecs * 1000);
  }
}

// One call of the soak: `call-ok`, or `call-failed:<why>` (an error kind, an expired token handed
// out, or the API's status).
async function soakCall(settings, id, audience) {
  let why = null;
  try {
    const token = (await getToken(audience)).accessToken;
    const exp = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
    if (exp * 1000 <= Date.now()) {
      why = "expired_token";
    } else {
      const r = await fetch(new URL("data", settings.apiUrl), {
        headers: { Authorization: `Bearer ${token}` },
        cache: "no-store",
      });
      if (!r.ok) why = `api_${r.status}`;
    }
  } catch (e) {
    why = isAuthError(e) ? e.kind : `${e?.name ?? "error"} ${e?.message ?? e}`;
  }
  report(settings, id, why ? `call-failed:${why}` : "call-ok");
}
