// The minimal host's bar: the Portico client's host API (the `portico:host-ui` permission set).
import { createHostClient } from "/_portico/client.js";

const host = createHostClient();
const $ = (id) => document.getElementById(id);

function show(state) {
  const session = state.session;
  const account = $("account");
  account.textContent = session ? (session.name ?? session.subject) : "";
  // Named for tests only while someone is signed in, as the reference chrome does.
  if (session) account.dataset.testid = "account-name";
  else delete account.dataset.testid;
  $("sign-in").hidden = Boolean(session);
  $("sign-out").hidden = !session;
}

$("sign-in").addEventListener("click", () => host.signIn().catch((e) => ($("error").textContent = e.message)));
$("sign-out").addEventListener("click", () => host.signOut().catch((e) => ($("error").textContent = e.message)));

await host.subscribe((push) => {
  if (push.type === "state") show(push.state);
  if (push.type === "error") $("error").textContent = push.error.message;
});
show(await host.state());
