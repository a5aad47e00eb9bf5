// The seed article's design, for the side-by-side start-up and memory figures of
// `cargo xtask bench`: one webview holds this shell page and the three MFE pages as cross-origin
// iframes. The shell page holds the session and answers each frame's GET_TOKEN with
// TOKEN_RESPONSE over postMessage, checking origins both ways, and gives a frame only its own
// audience. The session itself is Portico's (restored from the keyring), so the comparison is
// about the layout and the bridge, not about which SDK keeps the refresh token.
// Settings: `frames`: [{ id, origin, audience, scopes }], `report` (the bench's listener).
import { context, getToken, isAuthError, onSessionChanged } from "/_portico/client.js";

const ctx = await context();
const { frames, report } = ctx.settings;
const byOrigin = new Map(frames.map((f) => [f.origin, f]));

// Before the session is restored a token request is refused with login_required: wait for it.
let sessionReady = null;
const nextSession = () =>
  (sessionReady ??= new Promise((resolve) => {
    onSessionChanged((session) => {
      if (session) resolve();
    });
  }));

async function tokenFor(frame) {
  for (;;) {
    try {
      return (await getToken(frame.audience, { scopes: frame.scopes })).accessToken;
    } catch (e) {
      if (!(isAuthError(e) && e.kind === "login_required")) throw e;
      await nextSession();
    }
  }
}

window.addEventListener("message", async (event) => {
  const frame = byOrigin.get(event.origin);
  if (!frame || event.data?.type !== "GET_TOKEN" || event.data.audience !== frame.audience) return;
  let answer;
  try {
    answer = { type: "TOKEN_RESPONSE", token: await tokenFor(frame) };
  } catch (e) {
    answer = { type: "TOKEN_RESPONSE", token: null, error: isAuthError(e) ? e.kind : String(e) };
  }
  event.source.postMessage(answer, event.origin);
});

for (const f of frames) {
  const src = new URL("/", f.origin);
  for (const [k, v] of Object.entries({ mfe: f.id, audience: f.audience, shell: location.origin, report })) {
    src.searchParams.set(k, v);
  }
  const iframe = document.createElement("iframe");
  iframe.title = f.id;
  iframe.src = src.href;
  document.body.append(iframe);
}
document.getElementById("status").textContent = "shell ready";
