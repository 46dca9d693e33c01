// The account console: a person's own registry credentials and sessions, through the account
// API (`/realms/{realm}/account/…`) with the person's own token. Built with `dom.js` (values as
// text only).

import { Session } from "./auth.js";
import { Api } from "./api.js";
import { actions, field, formValues, h, input, say, seg, start, table, tag, time } from "./dom.js";

const body = document.body;
const accountUrl = `${body.dataset.base}/realms/${encodeURIComponent(body.dataset.realm)}/account/`;
const session = new Session(body.dataset.realm, body.dataset.base, { clientId: "account-console", appUrl: accountUrl });
const api = new Api(session, accountUrl.slice(0, -1));
const app = document.getElementById("app");
const { act, confirmed } = actions(() => render());

/** A personal access token needs a password given within five minutes (the server's rule); the
 *  page asks for it a little before, so a form is not filled in for nothing. */
const RECENT_LOGIN_SECONDS = 270;

/** The secret of the token just made: shown once, on the page that made it, then forgotten. */
let madeSecret = null;

const sections = [["tokens", "Personal access tokens"], ["identity-tokens", "Identity tokens"], ["sessions", "Sessions"], ["password", "Password"]];

function navigation(current) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...sections.map(([key, label]) =>
    h("a", { href: `#/${key}`, "aria-current": current === key ? "page" : null }, label)));
}

async function render() {
  const parts = (location.hash.slice(1) || "/").split("?")[0].split("/").filter(Boolean);
  const section = parts[0] || "tokens";
  // The new token's secret stays on the list until the person leaves it.
  if (section !== "tokens" || parts[1]) madeSecret = null;
  navigation(section);
  const page = Object.hasOwn(pages, section) ? pages[section] : null;
  if (!page) { app.replaceChildren(h("h1", {}, "Not found")); return; }
  try {
    const content = await page(parts.slice(1));
    app.replaceChildren(...[content].flat(Infinity).filter((node) => node !== null && node !== undefined && node !== false));
  } catch (error) {
    app.replaceChildren(h("h1", {}, "Something went wrong"), h("p", {}, error.message));
  }
}

function expiryText(ms) {
  if (!ms) return "never";
  return ms < Date.now() ? `ended ${time(ms)}` : time(ms);
}

const pages = {
  async tokens(rest) {
    document.title = "Personal access tokens · Keyport";
    if (rest[0] === "new") return newTokenPage();
    const tokens = await api.get("/personal-access-tokens", { max: 100 });
    return [h("h1", {}, "Personal access tokens"),
      madeSecret ? secretBox(madeSecret) : null,
      h("p", { class: "hint" }, "A personal access token is a password for one registry, for scripts and CI jobs: ",
        "it never does more than your roles allow when it is used, less if you gave it grants, and it ends when it expires or you revoke it."),
      table(["Name", "Registry", "Grants", "Expires", "Last used", ""], tokens.map((t) => [
        t.name, h("code", {}, t.client), t.grants && t.grants.length ? t.grants.map((g) => h("div", {}, h("code", {}, g))) : "everything your roles allow",
        expiryText(t.expiresAt), t.lastUsedAt ? [time(t.lastUsedAt), h("div", { class: "muted" }, t.lastUsedIp || "")] : "never",
        h("button", { type: "button", class: "danger", "aria-label": `Revoke ${t.name}`, onclick: () =>
          confirmed(`Revoke the token "${t.name}"? Whatever uses it is refused from the next request.`,
            () => api.delete(`/personal-access-tokens/${seg(t.id)}`), `Token "${t.name}" revoked.`) }, "Revoke")]),
      "You have no personal access token."),
      h("p", {}, h("a", { href: "#/tokens/new", class: "button" }, "New token"))];
  },

  async "identity-tokens"() {
    document.title = "Identity tokens · Keyport";
    const list = await api.get("/identity-tokens");
    return [h("h1", {}, "Identity tokens"),
      h("p", { class: "hint" }, "What docker login (or podman, skopeo) keeps on a machine instead of your password, one per login. ",
        "Revoke one and that machine must log in again."),
      table(["Registry", "Logged in", "Last used", "Address", ""], list.map((t) => [
        h("code", {}, t.client), time(t.createdAt), time(t.lastUsedAt), t.lastUsedIp || "",
        h("button", { type: "button", class: "danger", "aria-label": `Revoke the identity token of ${time(t.createdAt)}`, onclick: () =>
          confirmed("Revoke this identity token? That machine must docker login again.",
            () => api.delete(`/identity-tokens/${seg(t.id)}`), "Identity token revoked.") }, "Revoke")]),
      "No machine holds an identity token of yours.")];
  },

  async sessions() {
    document.title = "Sessions · Keyport";
    const list = await api.get("/sessions");
    const others = list.filter((s) => !s.current).length;
    return [h("h1", {}, "Sessions"),
      h("p", { class: "hint" }, "Where you are signed in: browsers, and tools that logged in with your password."),
      table(["Started", "Last access", "Address", "Signed in to", ""], list.map((s) => [
        time(s.started * 1000), time(s.lastAccess * 1000), s.ipAddress || "",
        s.clients.length ? s.clients.map((c) => h("div", {}, c.clientName)) : h("span", { class: "muted" }, "this sign-in only"),
        s.current ? tag("this session", "yes") : h("button", { type: "button", class: "danger", onclick: () =>
          confirmed("End this session?", () => api.delete(`/sessions/${seg(s.id)}`), "Session ended.") }, "End")]),
      "No session."),
      others ? h("p", {}, h("button", { type: "button", class: "secondary", onclick: () =>
        confirmed(`End your ${others} other session${others === 1 ? "" : "s"}?`, () => api.delete("/sessions"), "Your other sessions ended.") },
      "Sign out everywhere else")) : null];
  },

  async password() {
    document.title = "Password · Keyport";
    return [h("h1", {}, "Password"),
      h("p", {}, "You will enter your current password, then the new one. ",
        "A new password signs you out everywhere, ends the identity tokens docker login left on machines, ",
        "and ends the personal access tokens you made yourself."),
      h("button", { type: "button", onclick: () => session.login({ kc_action: "UPDATE_PASSWORD" }) }, "Change password")];
  },
};

async function newTokenPage() {
  const back = h("p", {}, h("a", { href: "#/tokens" }, "Back to your tokens"));
  if (!session.signedInWithin(RECENT_LOGIN_SECONDS)) {
    return [h("h1", {}, "New personal access token"),
      h("p", {}, "A new token needs your password given in the last five minutes."),
      h("button", { type: "button", onclick: () => session.login({ prompt: "login" }) }, "Confirm your password"), back];
  }
  const registries = await api.get("/registries");
  if (!registries.length) {
    return [h("h1", {}, "New personal access token"), h("p", {}, "No registry of this realm gives you any access: ask an administrator."), back];
  }
  const grantsList = h("div", { class: "stack" });
  const select = h("select", { name: "client", id: "f-client", onchange: () => showGrants() },
    registries.map((r) => h("option", { value: r.client }, r.name ? `${r.name} (${r.client})` : r.client)));
  function showGrants() {
    const chosen = registries.find((r) => r.client === select.value);
    grantsList.replaceChildren(h("div", {}, h("strong", {}, "What your roles allow there: "),
      chosen.authorization === "allow-all" ? "everything (this registry lets every signed-in user do anything)" : null),
    chosen.authorization === "allow-all" ? null : h("ul", {}, chosen.grants.map((g) => h("li", {}, h("code", {}, g)))));
  }
  showGrants();
  const lifetimes = [["30", "30 days"], ["7", "7 days"], ["90", "90 days"], ["365", "1 year"], ["", "as long as the realm allows"]];
  const form = h("form", { class: "stack", onsubmit: (event) => {
    event.preventDefault();
    const v = formValues(event.target);
    const grants = (v.grants || "").split("\n").map((g) => g.trim()).filter(Boolean);
    const request = { name: v.name, client: v.client };
    if (grants.length) request.grants = grants;
    if (v.days) request.expiresAt = Date.now() + Number(v.days) * 86_400_000;
    act(async () => {
      const made = await api.post("/personal-access-tokens", request);
      madeSecret = { token: made.token, name: made.name, client: made.client, username: session.claims.preferred_username || "" };
      location.hash = "#/tokens";
    }, "");
  } },
  field("Name (what uses it: a CI job, a laptop)", input("text", "name", { required: true, maxlength: 100, autocomplete: "off" })),
  h("div", {}, h("label", { for: "f-client" }, "Registry"), select),
  grantsList,
  h("div", {}, h("label", { for: "f-grants" }, "Grants (optional, one per line: narrows the token below your roles)"),
    h("textarea", { name: "grants", id: "f-grants", placeholder: "repository:team-a/*:pull" })),
  h("div", {}, h("label", { for: "f-days" }, "Expires after"),
    h("select", { name: "days", id: "f-days" }, lifetimes.map(([value, label]) => h("option", { value }, label)))),
  h("div", {}, h("button", { type: "submit" }, "Create token")));
  return [h("h1", {}, "New personal access token"), form, back];
}

/** The secret of a token just made, with a copy button: the only time it is shown. */
function secretBox(made) {
  const code = h("code", { id: "new-token-secret", class: "secret" }, made.token);
  const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await navigator.clipboard.writeText(made.token);
      say("Copied.", "ok");
    } catch {
      // No clipboard (a page served over plain HTTP): the text is selected for a manual copy.
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      say("Press Ctrl+C to copy the selected token.", "ok");
    }
  } }, "Copy");
  return h("section", { class: "card secret-box", "aria-labelledby": "secret-title" },
    h("h2", { id: "secret-title" }, `Your new token "${made.name}" for ${made.client}`),
    h("p", {}, "Copy it now: it is not shown again. Use it as the password of ", h("code", {}, made.username),
      ", for example ", h("code", {}, `docker login -u ${made.username} --password-stdin <registry>`), "."),
    h("div", { class: "row" }, code, copy,
      h("button", { type: "button", onclick: () => { madeSecret = null; render(); } }, "Done, I have stored it")));
}

// MARK: Start

start(session, render, () => {
  if (session.actionStatus === "success") say("Your password was changed.", "ok");
  else if (session.actionStatus === "cancelled") say("Your password was not changed.", "ok");
  return true;
});
