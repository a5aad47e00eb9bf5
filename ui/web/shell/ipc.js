// Minimal Tauri v2 IPC for the chrome page, without @tauri-apps/api (no bundler, no npm at runtime).
// Channel framing follows @tauri-apps/api core.js: `{ message, index }` frames delivered in index
// order, `{ end: true, index }` closes the channel once every earlier frame has arrived.

function internals() {
  const t = globalThis.__TAURI_INTERNALS__;
  return t && typeof t.invoke === "function" && typeof t.transformCallback === "function" ? t : null;
}

/** Normalizes a rejection into the tagged `{ kind, message, retryable }` shape the shell uses. */
export function toError(e) {
  if (e && typeof e === "object" && typeof e.kind === "string" && typeof e.message === "string") return e;
  const message = typeof e === "string" ? e : e instanceof Error ? e.message : "unexpected response from the shell";
  return { kind: "ipc", message, retryable: false };
}

export async function invoke(cmd, args) {
  const t = internals();
  if (!t) throw toError("not running inside the Portico shell");
  try {
    return await t.invoke(cmd, args);
  } catch (e) {
    throw toError(e);
  }
}

/** Opens a channel; `arg` is what to pass as the command's Channel argument. */
export function openChannel(onMessage) {
  const t = internals();
  if (!t) throw toError("not running inside the Portico shell");
  let next = 0;
  let endAt;
  let closed = false;
  const pending = new Map();
  const close = () => {
    if (closed) return;
    closed = true;
    if (typeof t.unregisterCallback === "function") t.unregisterCallback(id);
  };
  const id = t.transformCallback((frame) => {
    if (closed || !frame || typeof frame.index !== "number") return;
    if ("end" in frame) {
      if (frame.index === next) close();
      else endAt = frame.index;
      return;
    }
    if (frame.index < next) return;
    pending.set(frame.index, frame.message);
    while (pending.has(next)) {
      const message = pending.get(next);
      pending.delete(next);
      next += 1;
      try {
        onMessage(message);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
    if (endAt !== undefined && next >= endAt) close();
  });
  return { arg: `__CHANNEL__:${id}`, close };
}
