// A fake of the Tauri IPC *transport* (window.__TAURI_INTERNALS__), shaped like the script Tauri
// injects into every webview: invoke/transformCallback/unregisterCallback/runCallback. The client
// under test is the real dist/index.js; only the plugin on the other side of IPC is scripted here.
// Command names given without a `plugin:…|` prefix are the Portico plugin's: `on("get_token")`
// answers `plugin:portico|get_token` only, so a client calling the bare name finds no command.

/** `get_token` → `plugin:portico|get_token`; `shell_select_mfe|…`-style app names stay. */
export function qualify(cmd) {
  return cmd.startsWith("plugin:") || cmd.startsWith("shell_") ? cmd : `plugin:portico|${cmd}`;
}

export class FakeTauri {
  constructor() {
    this.calls = []; // [{ cmd, args }]
    this.handlers = new Map(); // cmd -> (args) => value | Promise
    this.callbacks = new Map(); // id -> fn
    this.nextId = 1;
    this.channelCounters = new Map(); // channel id -> next message index (like tauri::ipc::Channel)
  }

  install() {
    const self = this;
    globalThis.__TAURI_INTERNALS__ = {
      invoke(cmd, args = {}) {
        self.calls.push({ cmd, args });
        const handler = self.handlers.get(cmd);
        // Tauri runs the command asynchronously; resolve on a later tick like the real bridge.
        return new Promise((resolve, reject) => {
          setTimeout(() => {
            if (!handler) {
              reject(`Command ${cmd} not found`);
              return;
            }
            Promise.resolve()
              .then(() => handler(args))
              .then(resolve, reject);
          }, 0);
        });
      },
      transformCallback(callback, once = false) {
        const id = self.nextId++;
        self.callbacks.set(id, (data) => {
          if (once) self.callbacks.delete(id);
          return callback(data);
        });
        return id;
      },
      unregisterCallback(id) {
        self.callbacks.delete(id);
      },
      runCallback(id, data) {
        const cb = self.callbacks.get(id);
        if (cb) cb(data);
      },
    };
    return this;
  }

  uninstall() {
    delete globalThis.__TAURI_INTERNALS__;
  }

  on(cmd, handler) {
    this.handlers.set(qualify(cmd), handler);
    return this;
  }

  count(cmd) {
    return this.calls.filter((c) => c.cmd === qualify(cmd)).length;
  }

  /** The channel id the page passed to mfe_subscribe (its `__CHANNEL__:<id>` argument). */
  channelId(n = 0, cmd = "mfe_subscribe") {
    const subs = this.calls.filter((c) => c.cmd === qualify(cmd));
    const arg = subs[n]?.args?.channel;
    const m = /^__CHANNEL__:(\d+)$/.exec(String(arg));
    if (!m) throw new Error(`no ${cmd} #${n} with a channel argument (got ${arg})`);
    return Number(m[1]);
  }

  /** Sends like tauri::ipc::Channel::send: `{ message, index }` with a per-channel counter. */
  send(channelId, message) {
    const index = this.channelCounters.get(channelId) ?? 0;
    this.channelCounters.set(channelId, index + 1);
    this.frame(channelId, { message, index });
  }

  /** Delivers a raw frame, for reordering and end-of-channel tests. */
  frame(channelId, frame) {
    globalThis.__TAURI_INTERNALS__.runCallback(channelId, frame);
  }
}

/** Waits until queued timers and microtasks ran (the fake resolves invokes on a timer). */
export function settle() {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

export function grant(audience, expiresAt, extra = {}) {
  return {
    accessToken: `at-${audience}-${expiresAt}`,
    expiresAt,
    scope: "read:invoices",
    tokenType: "Bearer",
    audience,
    ...extra,
  };
}
