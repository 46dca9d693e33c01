// The admin console: a hash router and its pages, built with `dom.js` (values as text only).

import { Session } from "./auth.js";
import { Api } from "./api.js";
import { actions, csv, download, field, formValues, h, input, say, seg, start, table, tag, time } from "./dom.js";

const body = document.body;
const session = new Session(body.dataset.realm, body.dataset.base, {
  clientId: "security-admin-console", appUrl: `${body.dataset.base}/admin/${encodeURIComponent(body.dataset.realm)}/console/`,
});
const api = new Api(session, `${body.dataset.base}/admin/realms`);
const app = document.getElementById("app");
const PAGE = 20;

const { act, confirmed } = actions(() => render());

// MARK: Routing

function route() {
  const [path, queryText] = (location.hash.slice(1) || "/").split("?");
  const decode = (part) => { try { return decodeURIComponent(part); } catch { return part; } };
  return { parts: path.split("/").filter(Boolean).map(decode), query: new URLSearchParams(queryText || "") };
}

function go(parts, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString() : "";
  location.hash = "/" + parts.map(encodeURIComponent).join("/") + (q ? `?${q}` : "");
}

function link(text, parts, query, attributes = {}) {
  const q = query ? `?${new URLSearchParams(query)}` : "";
  return h("a", { href: "#/" + parts.map(encodeURIComponent).join("/") + q, ...attributes }, text);
}

function navigation(realm, current) {
  const nav = document.getElementById("nav");
  nav.replaceChildren();
  if (session.realm === "master") nav.append(link("Realms", [], null, { "aria-current": current === "realms" ? "page" : null }));
  if (!realm) return;
  const sections = [["users", "Users"], ["groups", "Groups"], ["roles", "Roles"], ["registry", "Registry access"], ["ci", "CI identities"], ["sso", "Sign-in providers"], ["directories", "Directories"],
    ["events", "Events"], ["registry-events", "Registry events"],
    ["admin-events", "Admin events"], ["settings", "Realm settings"]];
  nav.append(h("span", { class: "muted" }, `Realm ${realm}:`));
  for (const [key, label] of sections) {
    nav.append(link(label, ["r", realm, key], null, { "aria-current": current === key ? "page" : null }));
  }
}

async function render() {
  const { parts, query } = route();
  const realm = parts[0] === "r" ? parts[1] : null;
  const section = realm ? parts[2] || "users" : "realms";
  navigation(realm, section);
  const page = !realm ? pages.realms : Object.hasOwn(pages, section) ? pages[section] : null;
  if (!page) { app.replaceChildren(h("h1", {}, "Not found")); return; }
  try {
    const content = await page(realm, parts.slice(3), query);
    app.replaceChildren(...[content].flat(Infinity).filter((node) => node !== null && node !== undefined && node !== false));
  } catch (error) {
    // The API decides what this administrator may see: a refusal is said plainly.
    const refused = error.status === 403;
    app.replaceChildren(h("h1", {}, refused ? "Not allowed" : "Something went wrong"),
      h("p", {}, refused ? "Your roles in this realm do not include this page. " : "", error.message));
  }
}

// MARK: Pages

const pages = {
  async realms() {
    document.title = "Realms · Keyport";
    const realms = await api.get("");
    const form = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const values = formValues(event.target);
      act(() => api.post("", { realm: values.realm, enabled: true, dockerV2Enabled: values.docker === "on" }), `Realm ${values.realm} created.`);
    } }, field("Name", input("text", "realm", { required: true, maxlength: 255, autocomplete: "off" })),
    h("label", { class: "check" }, input("checkbox", "docker"), "Token realm of a registry (docker-v2)"),
    h("button", { type: "submit" }, "Create realm"));
    return [h("h1", {}, "Realms"),
      h("div", { class: "cards" }, realms.map((r) => h("div", { class: "card" },
        link(r.displayName || r.realm, ["r", r.realm, "users"]), h("div", { class: "muted" }, r.realm),
        h("div", {}, r.enabled === false ? tag("disabled", "no") : tag("enabled", "yes"), r.dockerV2Enabled ? tag("docker-v2", "yes") : null)))),
      h("h2", {}, "New realm"), form];
  },

  async users(realm, rest, query) {
    if (rest[0]) return userPage(realm, rest[0]);
    document.title = `Users · ${realm} · Keyport`;
    const search = query.get("search") || "";
    const first = Math.max(0, parseInt(query.get("first") || "0", 10) || 0);
    const [users, count] = await Promise.all([
      api.get(`/${seg(realm)}/users`, { search, first, max: PAGE, briefRepresentation: true }),
      api.get(`/${seg(realm)}/users/count`, { search }),
    ]);
    const searchForm = h("form", { class: "inline", role: "search", onsubmit: (event) => {
      event.preventDefault();
      go(["r", realm, "users"], { search: formValues(event.target).search });
    } }, field("Search users", input("search", "search", { value: search, placeholder: "username, email or name" })), h("button", { type: "submit" }, "Search"));
    const create = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      act(() => api.post(`/${seg(realm)}/users`, { username: v.username, email: v.email || undefined, enabled: true }), `User ${v.username} created.`);
    } }, field("Username", input("text", "username", { required: true, autocomplete: "off" })), field("Email", input("email", "email")),
    h("button", { type: "submit" }, "Add user"));
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: first === 0, onclick: () => go(["r", realm, "users"], { search, first: Math.max(0, first - PAGE) }) }, "Previous"),
      h("span", {}, `${count === 0 ? 0 : first + 1}–${first + users.length} of ${count}`),
      h("button", { type: "button", class: "secondary", disabled: first + users.length >= count, onclick: () => go(["r", realm, "users"], { search, first: first + PAGE }) }, "Next"));
    return [h("h1", {}, "Users"), searchForm,
      table(["Username", "Email", "Name", "Status"], users.map((u) => [
        link(u.username, ["r", realm, "users", u.id]), u.email || "", [u.firstName, u.lastName].filter(Boolean).join(" "),
        u.enabled ? tag("enabled", "yes") : tag("disabled", "no")]), search ? "No user matches." : "No users yet."),
      pager, h("h2", {}, "New user"), create];
  },

  async groups(realm, rest) {
    if (rest[0]) return groupPage(realm, rest[0]);
    document.title = `Groups · ${realm} · Keyport`;
    const groups = await api.get(`/${seg(realm)}/groups`, { max: 500 });
    const rows = groups.map((g) => [link(g.path, ["r", realm, "groups", g.id]), String(g.subGroupCount ?? 0)]);
    const create = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      act(() => api.post(`/${seg(realm)}/groups`, { name: v.name }), `Group ${v.name} created.`);
    } }, field("Name", input("text", "name", { required: true })), h("button", { type: "submit" }, "Add group"));
    return [h("h1", {}, "Groups"), table(["Path", "Subgroups"], rows, "No groups yet."), h("h2", {}, "New group"), create];
  },

  async roles(realm) {
    document.title = `Roles · ${realm} · Keyport`;
    const [roles, clients] = await Promise.all([api.get(`/${seg(realm)}/roles`, { max: 1000, briefRepresentation: true }),
      api.get(`/${seg(realm)}/clients`, { max: 1000 }).catch(() => [])]);
    const clientNames = new Map(clients.map((c) => [c.id, c.clientId]));
    const create = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      act(() => api.post(`/${seg(realm)}/roles`, { name: v.name, description: v.description || undefined }), `Role ${v.name} created.`);
    } }, field("Name", input("text", "name", { required: true, autocomplete: "off" })), field("Description", input("text", "description")),
    h("button", { type: "submit" }, "Add role"));
    return [h("h1", {}, "Realm roles"),
      h("p", { class: "hint" }, "A composite role holds other roles: open it to see what it contains, level by level. Client roles that carry registry grants are under Registry access."),
      h("ul", { class: "tree" }, roles.map((r) => roleNode(realm, r, new Set(), clientNames))),
      h("h2", {}, "New realm role"), create];
  },

  async registry(realm, rest, query) {
    if (rest[0]) return registryClient(realm, rest[0], rest[1] || "matrix", query);
    document.title = `Registry access · ${realm} · Keyport`;
    // The docker-v2 switch needs view-realm; an admin with only view-clients still sees the clients.
    const [settings, clients] = await Promise.all([
      api.get(`/${seg(realm)}`).catch(() => null), api.get(`/${seg(realm)}/clients`, { max: 1000 }),
    ]);
    const registries = clients.filter((c) => c.protocol === "docker-v2");
    const toggle = settings && h("button", { type: "button", class: settings.dockerV2Enabled ? "danger" : "", onclick: () =>
      act(() => api.put(`/${seg(realm)}`, { dockerV2Enabled: !settings.dockerV2Enabled }),
        settings.dockerV2Enabled ? "docker-v2 is off: registries can no longer get tokens here." : "docker-v2 is on.") },
    settings.dockerV2Enabled ? "Turn docker-v2 off" : "Turn docker-v2 on");
    const create = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      act(() => api.post(`/${seg(realm)}/clients`, { clientId: v.service, protocol: "docker-v2" }), `Registry client ${v.service} created.`);
    } }, field("Service (the registry's auth.token.service)", input("text", "service", { required: true, placeholder: "registry.example.com" })),
    h("button", { type: "submit" }, "Add registry client"));
    return [h("h1", {}, "Registry access"),
      settings ? h("p", {}, "docker-v2 for this realm: ", settings.dockerV2Enabled ? tag("on", "yes") : tag("off", "no"), " ", toggle) : null,
      table(["Registry client (service)", "Authorization", "Status"], registries.map((c) => [
        link(c.clientId, ["r", realm, "registry", c.id, "matrix"]), (c.attributes || {})["docker.authorization"] || "roles",
        c.enabled === false ? tag("disabled", "no") : tag("enabled", "yes")]), "No registry client yet."),
      h("h2", {}, "New registry client"), create];
  },

  async ci(realm) {
    document.title = `CI identities · ${realm} · Keyport`;
    // Each list needs its own role: a refusal of one is said there, and the other still shows.
    const unlessRefused = (error) => { if (error.status === 403) return null; throw error; };
    const [providers, clients] = await Promise.all([
      api.get(`/${seg(realm)}/identity-provider/instances`).catch(unlessRefused),
      api.get(`/${seg(realm)}/clients`, { max: 1000 }).catch(unlessRefused),
    ]);
    const vouching = (providers || []).filter((p) => (p.config || {}).supportsClientAssertions === "true");
    const federated = (clients || []).filter((c) => c.clientAuthenticatorType === "federated-jwt");
    const refused = (what) => h("p", { class: "muted" }, `Your roles in this realm do not include ${what}.`);
    const conditions = (c) => {
      const text = (c.attributes || {})["keyport.jwt.credential.claims"];
      if (!text) return h("span", { class: "muted" }, "none: the subject alone");
      try { return h("span", { class: "mono" }, Object.entries(JSON.parse(text)).map(([k, v]) => `${k} = ${[v].flat().join(" | ")}`).join("; ")); }
      catch { return tag("does not parse", "no"); }
    };
    const trust = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      act(() => api.post(`/${seg(realm)}/identity-provider/instances`, { alias: v.alias, providerId: "oidc", enabled: true, displayName: v.displayName || undefined,
        config: { issuer: v.issuer, jwksUrl: v.jwksUrl, useJwksUrl: "true", supportsClientAssertions: "true" } }), `Identity provider ${v.alias} added.`);
    } }, field("Alias", input("text", "alias", { required: true, autocomplete: "off", placeholder: "github" })),
    field("Display name", input("text", "displayName", { placeholder: "GitHub Actions" })),
    field("Issuer (the tokens' iss)", input("url", "issuer", { required: true, placeholder: "https://token.actions.githubusercontent.com" })),
    field("Keys (JWKS URL, https)", input("url", "jwksUrl", { required: true, placeholder: "https://token.actions.githubusercontent.com/.well-known/jwks" })),
    h("button", { type: "submit" }, "Trust this issuer"));
    const client = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      let claims = (v.claims || "").trim();
      if (claims) {
        try { JSON.parse(claims); } catch { say("Claim conditions: a JSON object, e.g. {\"repository_id\": \"123456\"}.", "error"); return; }
      }
      act(() => api.post(`/${seg(realm)}/clients`, { clientId: v.clientId, publicClient: false, serviceAccountsEnabled: true,
        clientAuthenticatorType: "federated-jwt", attributes: { "jwt.credential.issuer": v.provider, "jwt.credential.sub": v.subject,
          ...(claims ? { "keyport.jwt.credential.claims": claims } : {}) } }),
      `Client ${v.clientId} created: give service-account-${v.clientId} a registry role (Users), then log in with docker login -u ${v.clientId} and the job's token.`);
    } }, field("Client (the docker login username)", input("text", "clientId", { required: true, autocomplete: "off", placeholder: "ci-acme-app" })),
    field("Identity provider", h("select", { name: "provider", id: "f-provider", required: true }, ...vouching.map((p) => h("option", { value: p.alias }, p.alias)))),
    field("Subject (sub, exactly)", input("text", "subject", { required: true, placeholder: "repo:acme/app:ref:refs/heads/main" })),
    field("Claim conditions (JSON, optional)", input("text", "claims", { placeholder: "{\"repository_id\": \"123456789\"}" })),
    h("button", { type: "submit", disabled: vouching.length === 0 }, "Add CI client"));
    return [h("h1", {}, "CI identities"),
      h("p", { class: "hint" }, "CI jobs (GitHub Actions, GitLab CI, Kubernetes) already hold a short-lived token signed by their issuer. Trust the issuer once, then let one subject of it stand for a client: the job logs in with its own token as the password, and no registry secret is stored in CI."),
      h("h2", {}, "Trusted issuers"),
      providers === null ? refused("identity providers (view-identity-providers)") : table(["Alias", "Issuer", "Keys", "Vouches for clients", "Status"], providers.map((p) => [
        h("span", {}, p.alias, p.displayName ? h("span", { class: "muted" }, ` (${p.displayName})`) : null),
        h("span", { class: "mono" }, (p.config || {}).issuer || ""),
        h("span", { class: "mono" }, (p.config || {}).useJwksUrl === "false" ? "a pinned key" : (p.config || {}).jwksUrl || ""),
        (p.config || {}).supportsClientAssertions === "true" ? tag("yes", "yes") : tag("no", "no"),
        p.enabled === false ? tag("disabled", "no") : tag("enabled", "yes")]), "No identity provider yet."),
      h("h2", {}, "CI clients"),
      clients === null ? refused("clients (view-clients)") : table(["Client", "Issuer", "Subject", "Claim conditions", "Status"], federated.map((c) => [
        link(c.clientId, ["r", realm, "users"], { search: `service-account-${c.clientId}` }), (c.attributes || {})["jwt.credential.issuer"] || "",
        h("span", { class: "mono" }, (c.attributes || {})["jwt.credential.sub"] || ""), conditions(c),
        c.enabled === false ? tag("disabled", "no") : tag("enabled", "yes")]), "No CI client yet."),
      providers === null ? null : [h("h2", {}, "Trust a CI issuer"), trust],
      clients === null ? null : [h("h2", {}, "New CI client"), vouching.length ? client : h("p", { class: "muted" }, "Trust an issuer first.")]];
  },

  async sso(realm, rest) {
    if (rest[0]) return providerPage(realm, rest[0]);
    document.title = `Sign-in providers · ${realm} · Keyport`;
    const providers = await api.get(`/${seg(realm)}/identity-provider/instances`);
    const signIn = providers.filter((p) => (p.config || {}).authorizationUrl);
    const add = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      act(async () => {
        // The provider's own discovery document gives its issuer and endpoints.
        const found = await api.post(`/${seg(realm)}/identity-provider/import-config`, { providerId: "oidc", fromUrl: v.discovery });
        await api.post(`/${seg(realm)}/identity-provider/instances`, { alias: v.alias, providerId: "oidc", enabled: true, trustEmail: v.trustEmail === "on",
          displayName: v.displayName || undefined,
          config: { ...found, clientId: v.clientId, clientSecret: v.clientSecret, clientAuthMethod: "client_secret_post", syncMode: v.syncMode, defaultScope: "openid email profile" } });
      }, `Provider ${v.alias} added: register ${location.origin}/realms/${realm}/broker/${v.alias}/endpoint as a redirect URI at the provider.`);
    } }, field("Alias", input("text", "alias", { required: true, autocomplete: "off", placeholder: "corp" })),
    field("Name on the login page", input("text", "displayName", { placeholder: "Corp SSO" })),
    field("Discovery URL", input("url", "discovery", { required: true, placeholder: "https://sso.corp.example/realms/corp/.well-known/openid-configuration" })),
    field("Client id at the provider", input("text", "clientId", { required: true, autocomplete: "off" })),
    field("Client secret", input("password", "clientSecret", { required: true, autocomplete: "new-password" })),
    field("Mappers run", h("select", { name: "syncMode", id: "f-syncMode" }, h("option", { value: "IMPORT" }, "when the user is created"), h("option", { value: "FORCE" }, "at every sign-in"))),
    h("label", { class: "check" }, input("checkbox", "trustEmail"), "Trust the provider's email addresses (marked verified)"),
    h("button", { type: "submit" }, "Add provider"));
    return [h("h1", {}, "Sign-in providers"),
      h("p", { class: "hint" }, "People sign in with the organisation's own OpenID provider: the login page offers it, a first sign-in creates the user (or, for a name that exists, asks for that account's password) and its mappers put them in groups and roles."),
      table(["Provider", "Issuer", "Login page", "Status"], signIn.map((p) => [
        link(p.displayName ? `${p.alias} (${p.displayName})` : p.alias, ["r", realm, "sso", p.alias]),
        h("span", { class: "mono" }, (p.config || {}).issuer || ""),
        p.hideOnLogin ? tag("hidden", "no") : tag("shown", "yes"),
        p.enabled === false ? tag("disabled", "no") : tag("enabled", "yes")]), "No sign-in provider yet."),
      h("h2", {}, "Add a provider"), add];
  },

  async directories(realm, rest) {
    if (rest[0]) return directoryPage(realm, rest[0]);
    document.title = `Directories · ${realm} · Keyport`;
    const providers = await api.get(`/${seg(realm)}/components`, { type: STORAGE_PROVIDER });
    const add = h("form", { class: "stack", onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      act(() => api.post(`/${seg(realm)}/components`, directoryComponent(v)),
        `Directory ${v.name} added: sync its people, or let them sign in with their directory password.`);
    } }, h("div", { class: "row" }, field("Name", input("text", "name", { required: true, autocomplete: "off", placeholder: "corp-ldap" })),
      field("Kind", h("select", { name: "vendor", id: "f-vendor" }, h("option", { value: "other" }, "OpenLDAP or another LDAP directory"),
        h("option", { value: "ad" }, "Active Directory")))),
    h("div", { class: "row" }, field("Connection URL", input("text", "connectionUrl", { required: true, placeholder: "ldaps://ldap.corp.example" })),
      h("label", { class: "check" }, input("checkbox", "startTls"), "StartTLS (for ldap://)")),
    h("div", { class: "row" }, field("Bind DN (a service account that reads people)", input("text", "bindDn", { placeholder: "cn=keyport,ou=services,dc=corp,dc=example" })),
      field("Its password", input("password", "bindCredential", { autocomplete: "new-password" }))),
    h("div", { class: "row" }, field("Users DN", input("text", "usersDn", { required: true, placeholder: "ou=people,dc=corp,dc=example" })),
      field("Username attribute", input("text", "usernameLDAPAttribute", { placeholder: "uid (sAMAccountName for AD)" })),
      field("Search", h("select", { name: "searchScope", id: "f-searchScope" }, h("option", { value: "1" }, "just under the users DN"),
        h("option", { value: "2" }, "the whole subtree")))),
    h("label", { class: "check" }, input("checkbox", "trustEmail"), "Trust the directory's email addresses (marked verified)"),
    h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: (event) => testDirectory(realm, formValues(event.target.form)) }, "Test connection"),
      h("button", { type: "submit" }, "Add directory")));
    return [h("h1", {}, "Directories"),
      h("p", { class: "hint" }, "People sign in with their LDAP or Active Directory password, checked by the directory and never stored here; their directory groups become groups here, and what the directory decides (a group left, an account disabled or deleted) follows at their next sign-in. Adding a directory is the realm administrator's."),
      table(["Directory", "Kind", "Connection", "Users DN", "Last sync", "Status"], providers.map((p) => {
        const c = (key) => ((p.config || {})[key] || [])[0] || "";
        return [link(p.name, ["r", realm, "directories", p.id]), c("vendor") === "ad" ? "Active Directory" : "LDAP",
          h("span", { class: "mono" }, c("connectionUrl")), h("span", { class: "mono" }, c("usersDn")),
          c("lastSync") ? time(Number(c("lastSync")) * 1000) : "never", c("enabled") === "false" ? tag("disabled", "no") : tag("enabled", "yes")];
      }), "No directory yet: every person is a local user."),
      h("h2", {}, "Add a directory"), add];
  },

  async events(realm, rest, query) {
    document.title = `Events · ${realm} · Keyport`;
    const names = { type: "Type", user: "Username or id", client: "Client", ipAddress: "Address", dateFrom: "From (day)", dateTo: "To (day)" };
    const filters = Object.fromEntries(Object.keys(names).map((name) => [name, query.get(name) || ""]));
    const first = Math.max(0, parseInt(query.get("first") || "0", 10) || 0);
    const events = await api.get(`/${seg(realm)}/events`, { ...filters, first, max: 50 });
    const form = h("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      go(["r", realm, "events"], formValues(event.target));
    } }, ...Object.entries(names).map(([name, label]) =>
      field(label, input(name.startsWith("date") ? "date" : "text", name, { value: filters[name] }))), h("button", { type: "submit" }, "Filter"));
    const rows = events.map((e) => [time(e.time), e.type, e.clientId || "", e.userId || "", e.ipAddress || "", e.error || "",
      h("span", { class: "mono" }, Object.entries(e.details || {}).map(([k, v]) => `${k}=${v}`).join(" "))]);
    const exports = h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => download(`events-${realm}.json`, "application/json", JSON.stringify(events, null, 2)) }, "Export JSON"),
      h("button", { type: "button", class: "secondary", onclick: () => download(`events-${realm}.csv`, "text/csv", csv(
        ["time", "type", "client", "user", "address", "error", "details"], events.map((e) => [time(e.time), e.type, e.clientId, e.userId, e.ipAddress, e.error,
          Object.entries(e.details || {}).map(([k, v]) => `${k}=${v}`).join(" ")]))) }, "Export CSV"));
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: first === 0, onclick: () => go(["r", realm, "events"], { ...filters, first: Math.max(0, first - 50) }) }, "Newer"),
      h("button", { type: "button", class: "secondary", disabled: events.length < 50, onclick: () => go(["r", realm, "events"], { ...filters, first: first + 50 }) }, "Older"));
    return [h("h1", {}, "Events"), form, exports, table(["Time", "Type", "Client", "User", "Address", "Error", "Details"], rows, "No events match."), pager];
  },

  async "registry-events"(realm, rest, query) {
    document.title = `Registry events · ${realm} · Keyport`;
    const names = { repository: "Repository (trailing * allowed)", actor: "User", action: "Action", credential: "Credential kind",
      ipAddress: "Address (host)", client: "Registry client", dateFrom: "From (day)", dateTo: "To (day)" };
    const filters = Object.fromEntries(Object.keys(names).map((name) => [name, query.get(name) || ""]));
    const first = Math.max(0, parseInt(query.get("first") || "0", 10) || 0);
    const events = await api.get(`/${seg(realm)}/docker-v2-events`, { ...filters, first, max: 50 });
    const choices = { action: ["", "push", "pull", "delete", "mount"],
      credential: ["", "password", "personal-access-token", "identity-token", "client-secret", "anonymous"] };
    const control = (name) => choices[name]
      ? h("select", { name }, ...choices[name].map((v) => h("option", { value: v, selected: v === filters[name] }, v || "any")))
      : input(name.startsWith("date") ? "date" : "text", name, { value: filters[name] });
    const form = h("form", { class: "inline", onsubmit: (event) => { event.preventDefault(); go(["r", realm, "registry-events"], formValues(event.target)); } },
      ...Object.entries(names).map(([name, label]) => field(label, control(name))), h("button", { type: "submit" }, "Filter"));
    const credential = (e) => e.credential ? `${e.credential.kind}${e.credential.id ? " " + e.credential.id : ""} (inferred)` : "unknown";
    const target = (e) => `${e.repository || ""}${e.tag ? ":" + e.tag : ""}`;
    const rows = events.map((e) => [time(e.time), e.action, e.actor || "(anonymous)", h("span", { class: "mono" }, target(e)),
      h("span", { class: "mono", title: e.digest || "" }, (e.digest || "").slice(0, 19)), e.sourceAddress || e.ipAddress || "", credential(e), e.clientId]);
    const exports = h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => download(`registry-events-${realm}.json`, "application/json", JSON.stringify(events, null, 2)) }, "Export JSON"),
      h("button", { type: "button", class: "secondary", onclick: () => download(`registry-events-${realm}.csv`, "text/csv", csv(
        ["time", "action", "actor", "repository", "tag", "digest", "address", "credential (inferred)", "registry client"],
        events.map((e) => [time(e.time), e.action, e.actor, e.repository, e.tag, e.digest, e.ipAddress, credential(e), e.clientId]))) }, "Export CSV"));
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: first === 0, onclick: () => go(["r", realm, "registry-events"], { ...filters, first: Math.max(0, first - 50) }) }, "Newer"),
      h("button", { type: "button", class: "secondary", disabled: events.length < 50, onclick: () => go(["r", realm, "registry-events"], { ...filters, first: first + 50 }) }, "Older"));
    return [h("h1", {}, "Registry events"),
      h("p", { class: "hint" }, "Pushes, pulls, deletes and mounts as the registries reported them (whoever holds a registry's notification secret can report); the credential is Keyport's inference from its own token events. A registry reports once its notifications are on: kpadm docker notifications enable."),
      form, exports, table(["Time", "Action", "User", "Repository", "Digest", "Address", "Credential", "Registry"], rows, "No registry event matches."), pager];
  },

  async "admin-events"(realm, rest, query) {
    document.title = `Admin events · ${realm} · Keyport`;
    const filters = { operationTypes: query.get("operationTypes") || "", resourceTypes: query.get("resourceTypes") || "",
      resourcePath: query.get("resourcePath") || "", authUser: query.get("authUser") || "" };
    const first = Math.max(0, parseInt(query.get("first") || "0", 10) || 0);
    const events = await api.get(`/${seg(realm)}/admin-events`, { ...filters, first, max: 50 });
    const form = h("form", { class: "inline", onsubmit: (event) => { event.preventDefault(); go(["r", realm, "admin-events"], formValues(event.target)); } },
      ...Object.entries({ operationTypes: "Operation", resourceTypes: "Resource type", resourcePath: "Resource path (trailing * allowed)", authUser: "By user id" })
        .map(([name, label]) => field(label, input("text", name, { value: filters[name] }))), h("button", { type: "submit" }, "Filter"));
    const rows = events.map((e) => [time(e.time), e.operationType, e.resourceType, h("span", { class: "mono" }, e.resourcePath || ""),
      (e.authDetails || {}).userId || "", (e.authDetails || {}).ipAddress || ""]);
    const exports = h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => download(`admin-events-${realm}.json`, "application/json", JSON.stringify(events, null, 2)) }, "Export JSON"),
      h("button", { type: "button", class: "secondary", onclick: () => download(`admin-events-${realm}.csv`, "text/csv", csv(
        ["time", "operation", "resource type", "resource path", "user", "address"],
        events.map((e) => [time(e.time), e.operationType, e.resourceType, e.resourcePath, (e.authDetails || {}).userId, (e.authDetails || {}).ipAddress]))) }, "Export CSV"));
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: first === 0, onclick: () => go(["r", realm, "admin-events"], { ...filters, first: Math.max(0, first - 50) }) }, "Newer"),
      h("button", { type: "button", class: "secondary", disabled: events.length < 50, onclick: () => go(["r", realm, "admin-events"], { ...filters, first: first + 50 }) }, "Older"));
    return [h("h1", {}, "Admin events"),
      h("p", { class: "hint" }, "Who changed what, from where — recorded while the realm's admin events are on (Realm settings)."),
      form, exports, table(["Time", "Operation", "Resource", "Path", "By", "Address"], rows, "No admin event matches."), pager];
  },

  async settings(realm) {
    document.title = `Realm settings · ${realm} · Keyport`;
    const lifetimes = [["accessTokenLifespan", "Access token"], ["ssoSessionIdleTimeout", "Sign-in idle"], ["ssoSessionMaxLifespan", "Sign-in at most"],
      ["offlineSessionIdleTimeout", "Identity token idle"], ["personalAccessTokenMaxLifespan", "Personal access token at most"]];
    const r = await api.get(`/${seg(realm)}`);
    const form = h("form", { onsubmit: (event) => {
      event.preventDefault();
      const v = formValues(event.target);
      const numbers = {};
      for (const [name, label] of [...lifetimes, ["failureFactor", "Failures before a lockout"]]) {
        if (!/^\d+$/.test(v[name])) { say(`${label}: a whole number.`, "error"); return; }
        numbers[name] = Number(v[name]);
      }
      act(() => api.put(`/${seg(realm)}`, {
        displayName: v.displayName, dockerV2Enabled: v.dockerV2Enabled === "on", bruteForceProtected: v.bruteForceProtected === "on",
        ...numbers, passwordPolicy: v.passwordPolicy, adminEventsEnabled: v.adminEventsEnabled === "on",
      }), "Realm settings saved.");
    } },
    field("Display name", input("text", "displayName", { value: r.displayName || "" })),
    h("label", { class: "check" }, input("checkbox", "dockerV2Enabled", { checked: !!r.dockerV2Enabled }), "docker-v2 (token realm of a registry)"),
    h("fieldset", {}, h("legend", {}, "Token and session lifetimes (seconds; 0 where it means none)"),
      h("div", { class: "row" }, lifetimes.map(([name, label]) => field(label, input("text", name, { value: r[name] ?? 0, inputmode: "numeric" }))))),
    h("label", { class: "check" }, input("checkbox", "bruteForceProtected", { checked: !!r.bruteForceProtected }), "Brute-force detection"),
    field("Failures before a lockout", input("text", "failureFactor", { value: r.failureFactor, inputmode: "numeric" })),
    field("Password policy", input("text", "passwordPolicy", { value: r.passwordPolicy || "", placeholder: "length(12) and notUsername" })),
    h("label", { class: "check" }, input("checkbox", "adminEventsEnabled", { checked: !!r.adminEventsEnabled }), "Record admin events"),
    h("p", {}, h("button", { type: "submit" }, "Save")));
    const keys = await api.get(`/${seg(realm)}/keys`).catch((error) => ({ error: error.message }));
    return [h("h1", {}, `Realm settings: ${realm}`), form, h("h2", {}, "Signing keys"), keys.error ? h("p", { class: "muted" }, keys.error) : keysSection(realm, keys)];
  },
};

async function userPage(realm, id) {
  const base = `/${seg(realm)}/users/${seg(id)}`;
  const user = await api.get(base);
  document.title = `${user.username} · ${realm} · Keyport`;
  const optional = (promise) => promise.catch((error) => ({ error: error.message }));
  const [groups, effective, sessions, offline, tokens, mappings, failures, links] = await Promise.all([
    optional(api.get(`${base}/groups`)), optional(api.get(`${base}/effective-roles`)), optional(api.get(`${base}/sessions`)),
    optional(api.get(`${base}/offline-sessions`)), optional(api.get(`${base}/personal-access-tokens`)), optional(api.get(`${base}/role-mappings`)),
    optional(api.get(`/${seg(realm)}/attack-detection/brute-force/users/${seg(id)}`)), optional(api.get(`${base}/federated-identity`)),
  ]);
  const part = (value, build) => (value && value.error ? h("p", { class: "muted" }, value.error) : build(value));
  const reset = h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const v = formValues(event.target);
    act(() => api.put(`${base}/reset-password`, { type: "password", value: v.password, temporary: v.temporary === "on" }), "Password set.");
    event.target.reset();
  } }, field("New password", input("password", "password", { required: true, autocomplete: "new-password" })),
  h("label", { class: "check" }, input("checkbox", "temporary", { checked: true }), "Temporary (changed at next sign-in)"),
  h("button", { type: "submit" }, "Set password"));
  return [
    h("p", {}, link("← Users", ["r", realm, "users"])),
    h("h1", {}, user.username),
    h("dl", { class: "facts" }, h("dt", {}, "Id"), h("dd", { class: "mono" }, user.id), h("dt", {}, "Email"), h("dd", {}, user.email || "—"),
      h("dt", {}, "Status"), h("dd", {}, user.enabled ? tag("enabled", "yes") : tag("disabled", "no"), " ",
        h("button", { type: "button", class: "secondary", onclick: () => act(() => api.put(base, { enabled: !user.enabled }), user.enabled ? "User disabled." : "User enabled.") },
          user.enabled ? "Disable" : "Enable")),
      h("dt", {}, "Required actions"), h("dd", {}, (user.requiredActions || []).join(", ") || "—"),
      h("dt", {}, "Failed logins"), h("dd", {}, part(failures, (f) => [
        f.disabled ? tag("locked", "no") : null, `${f.numFailures || 0} since the last success`,
        f.lastFailure ? ` (last ${time(f.lastFailure)}${f.lastIPFailure ? ` from ${f.lastIPFailure}` : ""})` : "", " ",
        f.disabled || f.numFailures ? h("button", { type: "button", class: "secondary", onclick: () =>
          act(() => api.delete(`/${seg(realm)}/attack-detection/brute-force/users/${seg(id)}`), `${user.username} is unlocked.`) }, "Unlock") : null]))),
    h("h2", {}, "Password"), reset,
    h("h2", {}, "Signs in through"), part(links, (list) => table(["Provider", "Account there", "Subject", ""], list.map((l) => [
      link(l.identityProvider, ["r", realm, "sso", l.identityProvider]), l.userName || "", h("span", { class: "mono" }, l.userId),
      h("button", { type: "button", class: "danger", onclick: () => confirmed(`Unlink ${user.username} from ${l.identityProvider}? Their next sign-in there asks for this account's password.`,
        () => api.delete(`${base}/federated-identity/${seg(l.identityProvider)}`), `${user.username} unlinked from ${l.identityProvider}.`) }, "Unlink")]),
      "No identity provider account.")),
    h("h2", {}, "Groups"), part(groups, (list) => [
      table(["Path", ""], list.map((g) => [g.path, h("button", { type: "button", class: "secondary", onclick: () =>
        confirmed(`Remove ${user.username} from ${g.path}?`, () => api.delete(`${base}/groups/${seg(g.id)}`), `${user.username} left ${g.path}.`) }, "Leave")]), "In no group."),
      joinGroupForm(realm, base, user, list)]),
    h("h2", {}, "Role mappings"), part(mappings, (m) => roleMappings(realm, base, m)),
    h("h2", {}, "Effective roles"), part(effective, (answer) => [
      table(["Role", "Of", "Held through"], answer.roles.map((r) => [r.name, r.client || "realm", r.sources.join("; ")]), "No role."),
      answer.truncated ? h("p", { class: "muted" }, "Some paths are left out: the role graph is larger than one answer shows.") : null]),
    h("h2", {}, "Sign-in sessions"), part(sessions, (list) => table(["Started", "Last access", "Address", "Clients", ""], list.map((s) => [
      time(s.start), time(s.lastAccess), s.ipAddress || "", Object.values(s.clients || {}).join(", "),
      h("button", { type: "button", class: "danger", onclick: () => confirmed("End this sign-in session?", () => api.delete(`/${seg(realm)}/sessions/${seg(s.id)}`), "Session ended.") }, "End")]), "No session.")),
    h("h2", {}, "Identity tokens (docker login)"), part(offline, (list) => table(["Started", "Last use", "Address", "Registry", ""], list.map((s) => [
      time(s.start), time(s.lastAccess), s.ipAddress || "", Object.values(s.clients || {}).join(", "),
      h("button", { type: "button", class: "danger", onclick: () => confirmed("Revoke this identity token? The machine holding it must docker login again.", () => api.delete(`/${seg(realm)}/sessions/${seg(s.id)}`, { isOffline: true }), "Identity token revoked.") }, "Revoke")]), "No identity token.")),
    h("h2", {}, "Personal access tokens"), part(tokens, (list) => table(["Name", "Registry", "Grants", "Ends", "Last use", ""], list.map((t) => [
      t.name, t.client, (t.grants || ["everything its owner may do"]).join(", "), time(t.expiresAt), time(t.lastUsedAt),
      h("button", { type: "button", class: "danger", onclick: () => confirmed(`Revoke the token ${t.name}? Whatever uses it is refused from now on.`, () => api.delete(`${base}/personal-access-tokens/${seg(t.id)}`), `Token ${t.name} revoked.`) }, "Revoke")]), "No personal access token.")),
  ];
}

/** A sign-in provider: what it needs, its mappers (what a sign-in makes of the person). */
async function providerPage(realm, alias) {
  const base = `/${seg(realm)}/identity-provider/instances/${seg(alias)}`;
  const [provider, mappers] = await Promise.all([api.get(base), api.get(`${base}/mappers`)]);
  document.title = `${alias} · ${realm} · Keyport`;
  const config = provider.config || {};
  const missing = ["issuer", "authorizationUrl", "tokenUrl", "clientId"].filter((k) => !config[k])
    .concat(config.useJwksUrl === "false" ? (config.publicKeySignatureVerifier ? [] : ["publicKeySignatureVerifier"]) : (config.jwksUrl ? [] : ["jwksUrl"]));
  const what = (m) => {
    const c = m.config || {};
    switch (m.identityProviderMapper) {
      case "oidc-hardcoded-role-idp-mapper": return `role ${c.role}`;
      case "oidc-hardcoded-group-idp-mapper": return `group ${c.group}`;
      case "oidc-role-idp-mapper": return `role ${c.role} while ${c.claim} = ${c["claim.value"]}`;
      case "oidc-advanced-group-idp-mapper": return `group ${c.group} while ${c.claims}`;
      case "oidc-user-attribute-idp-mapper": return `attribute ${c["user.attribute"]} from ${c.claim}`;
      default: return m.identityProviderMapper;
    }
  };
  const kinds = [["oidc-hardcoded-group-idp-mapper", "Everyone joins a group"], ["oidc-hardcoded-role-idp-mapper", "Everyone gets a role"],
    ["oidc-role-idp-mapper", "A claim gives a role"], ["oidc-user-attribute-idp-mapper", "A claim sets an attribute"]];
  const add = h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const v = formValues(event.target);
    const c = { "oidc-hardcoded-group-idp-mapper": { group: v.target }, "oidc-hardcoded-role-idp-mapper": { role: v.target },
      "oidc-role-idp-mapper": { role: v.target, claim: v.claim, "claim.value": v.value },
      "oidc-user-attribute-idp-mapper": { "user.attribute": v.target, claim: v.claim } }[v.type];
    act(() => api.post(`${base}/mappers`, { name: v.name, identityProviderAlias: alias, identityProviderMapper: v.type, config: { syncMode: "INHERIT", ...c } }),
      `Mapper ${v.name} added.`);
  } }, field("Name", input("text", "name", { required: true, autocomplete: "off" })),
  field("Kind", h("select", { name: "type", id: "f-kind" }, ...kinds.map(([id, label]) => h("option", { value: id }, label)))),
  field("Group path, role (client.role) or attribute", input("text", "target", { required: true, placeholder: "/builders" })),
  field("Claim (for claim mappers)", input("text", "claim", { placeholder: "groups" })),
  field("Claim value (for a role)", input("text", "value", { placeholder: "admins" })),
  h("button", { type: "submit" }, "Add mapper"));
  return [h("p", {}, link("← Sign-in providers", ["r", realm, "sso"])), h("h1", {}, provider.displayName || alias),
    h("dl", { class: "facts" }, h("dt", {}, "Alias"), h("dd", { class: "mono" }, alias),
      h("dt", {}, "Redirect URI to register at the provider"), h("dd", { class: "mono" }, `${location.origin}/realms/${realm}/broker/${alias}/endpoint`),
      h("dt", {}, "Issuer"), h("dd", { class: "mono" }, config.issuer || "—"),
      h("dt", {}, "Ready to sign people in"), h("dd", {}, missing.length ? tag(`needs ${missing.join(", ")}`, "no") : tag("yes", "yes")),
      h("dt", {}, "Mappers run"), h("dd", {}, config.syncMode === "FORCE" ? "at every sign-in" : "when the user is created"),
      h("dt", {}, "Status"), h("dd", {}, provider.enabled === false ? tag("disabled", "no") : tag("enabled", "yes"), " ",
        h("button", { type: "button", class: "secondary", onclick: () => act(() => api.put(base, { ...provider, enabled: provider.enabled === false }),
          provider.enabled === false ? "Provider enabled." : "Provider disabled.") }, provider.enabled === false ? "Enable" : "Disable"))),
    h("h2", {}, "Mappers"),
    h("p", { class: "hint" }, "A mapper that gives a role or a group can only be made by an administrator who may grant it."),
    table(["Name", "Gives", "Runs", ""], mappers.map((m) => [m.name, what(m),
      ({ FORCE: "at every sign-in", IMPORT: "when the user is created", LEGACY: "when the user is created" })[(m.config || {}).syncMode] || "as the provider says",
      h("button", { type: "button", class: "danger", onclick: () => confirmed(`Delete the mapper ${m.name}?`, () => api.delete(`${base}/mappers/${seg(m.id)}`), `Mapper ${m.name} deleted.`) }, "Delete")]),
    "No mapper: people get the realm's default role only."),
    h("h2", {}, "Add a mapper"), add];
}

// MARK: Directories (LDAP user federation)

const STORAGE_PROVIDER = "org.keycloak.storage.UserStorageProvider";
const STORAGE_MAPPER = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper";

/** The provider Keycloak's console would send for the form's values, with the vendor's defaults. */
function directoryComponent(v) {
  const ad = v.vendor === "ad";
  const username = v.usernameLDAPAttribute || (ad ? "sAMAccountName" : "uid");
  const config = { vendor: [v.vendor], connectionUrl: [v.connectionUrl], startTls: [String(v.startTls === "on")], editMode: ["READ_ONLY"],
    usersDn: [v.usersDn], usernameLDAPAttribute: [username], rdnLDAPAttribute: [ad ? "cn" : username],
    uuidLDAPAttribute: [ad ? "objectGUID" : "entryUUID"], userObjectClasses: [ad ? "person, organizationalPerson, user" : "inetOrgPerson, organizationalPerson"],
    searchScope: [v.searchScope || "1"], pagination: ["true"], trustEmail: [String(v.trustEmail === "on")], authType: [v.bindDn ? "simple" : "none"] };
  if (v.bindDn) config.bindDn = [v.bindDn];
  if (v.bindCredential) config.bindCredential = [v.bindCredential];
  return { name: v.name, providerId: "ldap", providerType: STORAGE_PROVIDER, config };
}

/** Keycloak's `testLDAPConnection` for a form's values (or a saved provider's, its password kept on
 *  the server). Says the answer without drawing the page again: the form keeps what was typed. */
async function testDirectory(realm, v, componentId) {
  const authenticate = Boolean(v.bindDn);
  try {
    await api.post(`/${seg(realm)}/testLDAPConnection`, { action: authenticate ? "testAuthentication" : "testConnection",
      connectionUrl: v.connectionUrl, startTls: String(v.startTls === "on" || v.startTls === "true"), bindDn: v.bindDn || "",
      bindCredential: v.bindCredential || "", componentId: componentId || undefined });
    say(authenticate ? "The directory answered and accepted the bind DN and its password." : "The directory answered.", "ok");
  } catch (error) {
    say(error.message, "error");
  }
}

function mapperSummary(m) {
  const c = (key) => ((m.config || {})[key] || [])[0] || "";
  switch (m.providerId) {
    case "user-attribute-ldap-mapper": return `${c("ldap.attribute")} → ${c("user.model.attribute")}`;
    case "full-name-ldap-mapper": return `${c("ldap.full.name.attribute")} → first and last name`;
    case "hardcoded-ldap-attribute-mapper": return `${c("user.model.attribute")} = ${c("attribute.value")}`;
    case "group-ldap-mapper": return `groups under ${c("groups.dn")} → ${c("groups.path") || "/"}`;
    case "role-ldap-mapper": return `groups under ${c("roles.dn")} → roles${c("client.id") ? ` of ${c("client.id")}` : ""}`;
    case "hardcoded-ldap-role-mapper": return `everyone: role ${c("role")}`;
    case "hardcoded-ldap-group-mapper": return `everyone: group ${c("group")}`;
    case "msad-user-account-control-mapper": return "Active Directory's disabled bit";
    default: return m.providerId;
  }
}

/** A directory: how it is reached, its syncs, and its mappers (a group mapper's groups synced on demand). */
async function directoryPage(realm, id) {
  const components = `/${seg(realm)}/components`;
  const [provider, mappers] = await Promise.all([api.get(`${components}/${seg(id)}`), api.get(components, { parent: id })]);
  document.title = `${provider.name} · ${realm} · Keyport`;
  const config = provider.config || {};
  const c = (key) => (config[key] || [])[0] || "";
  const storage = `/${seg(realm)}/user-storage/${seg(id)}`;
  const sync = (action, what) => act(() => api.post(`${storage}/sync`, undefined, { action }), (result) => `${what}: ${result.status}.`);
  const toggle = () => act(() => api.put(`${components}/${seg(id)}`, { ...provider, config: { ...config, enabled: [c("enabled") === "false" ? "true" : "false"] } }),
    c("enabled") === "false" ? "Directory enabled." : "Directory disabled: its people cannot sign in.");
  const addGroups = h("form", { class: "stack", onsubmit: (event) => {
    event.preventDefault();
    const v = formValues(event.target);
    act(() => api.post(components, { name: v.name, providerId: "group-ldap-mapper", providerType: STORAGE_MAPPER, parentId: id,
      config: { "groups.dn": [v.groupsDn], "groups.path": [v.path || "/"], "group.object.classes": [v.classes || (c("vendor") === "ad" ? "group" : "groupOfNames")],
        "user.roles.retrieve.strategy": [v.strategy], "preserve.group.inheritance": [String(v.nested === "on")], "group.name.ldap.attribute": ["cn"],
        "membership.ldap.attribute": ["member"], "membership.attribute.type": ["DN"], mode: ["READ_ONLY"] } }), `Mapper ${v.name} added: sync its groups to give them access.`);
  } }, h("div", { class: "row" }, field("Name", input("text", "name", { required: true, autocomplete: "off", value: "groups" })),
    field("Groups DN", input("text", "groupsDn", { required: true, placeholder: "ou=groups,dc=corp,dc=example" })),
    field("Under the group", input("text", "path", { placeholder: "/ (or an existing group, /corp)" }))),
  h("div", { class: "row" }, field("Object classes", input("text", "classes", { placeholder: c("vendor") === "ad" ? "group" : "groupOfNames" })),
    field("A person's groups are", h("select", { name: "strategy", id: "f-strategy" },
      h("option", { value: "LOAD_GROUPS_BY_MEMBER_ATTRIBUTE" }, "those whose member attribute lists them"),
      h("option", { value: "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE" }, "those in their memberOf"),
      h("option", { value: "LOAD_GROUPS_BY_MEMBER_ATTRIBUTE_RECURSIVELY" }, "every group holding them, nested (Active Directory)")))),
  h("label", { class: "check" }, input("checkbox", "nested", { checked: true }), "Nest the groups as the directory nests them"),
  h("div", { class: "row" }, h("button", { type: "submit" }, "Add group mapper")));
  return [h("p", {}, link("← Directories", ["r", realm, "directories"])), h("h1", {}, provider.name),
    h("dl", { class: "facts" }, h("dt", {}, "Kind"), h("dd", {}, c("vendor") === "ad" ? "Active Directory" : "LDAP directory"),
      h("dt", {}, "Connection"), h("dd", { class: "mono" }, c("connectionUrl"), c("startTls") === "true" ? " (StartTLS)" : ""),
      h("dt", {}, "Bind DN"), h("dd", { class: "mono" }, c("bindDn") || "— (anonymous)"),
      h("dt", {}, "Users"), h("dd", { class: "mono" }, `${c("usersDn")} (${c("searchScope") === "2" ? "subtree" : "one level"}), username from ${c("usernameLDAPAttribute")}`),
      h("dt", {}, "Last sync"), h("dd", {}, c("lastSync") ? time(Number(c("lastSync")) * 1000) : "never"),
      h("dt", {}, "Status"), h("dd", {}, c("enabled") === "false" ? tag("disabled", "no") : tag("enabled", "yes"), " ",
        h("button", { type: "button", class: "secondary", onclick: toggle }, c("enabled") === "false" ? "Enable" : "Disable"))),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => testDirectory(realm, { connectionUrl: c("connectionUrl"), startTls: c("startTls"),
        bindDn: c("bindDn"), bindCredential: c("bindCredential"), componentId: id }, id) }, "Test connection"),
      h("button", { type: "button", onclick: () => sync("triggerFullSync", "Synced everyone") }, "Sync all people"),
      h("button", { type: "button", class: "secondary", onclick: () => sync("triggerChangedUsersSync", "Synced the changed people") }, "Sync changed people"),
      h("button", { type: "button", class: "danger", onclick: () => confirmed(`Delete the directory ${provider.name} and every user it imported?`,
        async () => { await api.delete(`${components}/${seg(id)}`); go(["r", realm, "directories"]); }, `Directory ${provider.name} deleted.`) }, "Delete directory")),
    h("h2", {}, "Mappers"),
    h("p", { class: "hint" }, "What the directory decides about a person. A mapper that gives a role or a group can only be made by an administrator who may grant it; a group mapper's groups can be synced before anyone signs in, to give them registry access first."),
    table(["Name", "Kind", "Does", ""], mappers.map((m) => [m.name, m.providerId, mapperSummary(m), h("span", {},
      m.providerId === "group-ldap-mapper" ? h("button", { type: "button", class: "secondary", onclick: () => act(
        () => api.post(`${storage}/mappers/${seg(m.id)}/sync`, undefined, { direction: "fedToKeycloak" }),
        (result) => `Groups of ${m.name}: ${result.added} made, ${result.updated} already there${result.failed ? `, ${result.failed} left out` : ""}.`) }, "Sync groups") : null, " ",
      h("button", { type: "button", class: "danger", onclick: () => confirmed(`Delete the mapper ${m.name}?`, () => api.delete(`${components}/${seg(m.id)}`), `Mapper ${m.name} deleted.`) }, "Delete"))]),
    "No mapper."),
    h("h2", {}, "Add a group mapper"), addGroups];
}

/** A group: its members (the first 100), subgroups, and role mappings (what its members hold). */
async function groupPage(realm, id) {
  const base = `/${seg(realm)}/groups/${seg(id)}`;
  const group = await api.get(base);
  document.title = `${group.path} · ${realm} · Keyport`;
  const optional = (promise) => promise.catch((error) => ({ error: error.message }));
  const [members, children, mappings] = await Promise.all([
    optional(api.get(`${base}/members`, { max: 100, briefRepresentation: true })), optional(api.get(`${base}/children`, { max: 100 })),
    optional(api.get(`${base}/role-mappings`)),
  ]);
  const part = (value, build) => (value && value.error ? h("p", { class: "muted" }, value.error) : build(value));
  return [h("p", {}, link("← Groups", ["r", realm, "groups"])), h("h1", {}, group.path),
    h("h2", {}, "Role mappings"), h("p", { class: "hint" }, "Every member holds these roles, and the members of its subgroups too."),
    part(mappings, (m) => roleMappings(realm, base, m)),
    h("h2", {}, "Members"), part(members, (list) => table(["Username", "Email"], list.map((u) => [link(u.username, ["r", realm, "users", u.id]), u.email || ""]),
      "No member.")), members.length === 100 ? h("p", { class: "muted" }, "The first 100 are shown.") : null,
    h("h2", {}, "Subgroups"), part(children, (list) => table(["Path"], list.map((g) => [link(g.path, ["r", realm, "groups", g.id])]), "No subgroup."))];
}

/** A role in the composite tree: a composite opens on demand (at most 12 levels; a role already
 *  on the path is shown, not opened again, so a cycle ends). */
function roleNode(realm, role, path, clientNames) {
  // Keycloak's built-in descriptions are message keys (`${role_offline-access}`): not shown.
  const described = role.description && !/^\$\{[^}]*\}$/.test(role.description);
  const label = [role.clientRole ? h("span", { class: "muted" }, `${clientNames.get(role.containerId) || "client"} / `) : null, role.name,
    described ? h("span", { class: "muted" }, ` — ${role.description}`) : null];
  if (!role.composite) return h("li", {}, label);
  if (path.has(role.id) || path.size >= 12) return h("li", {}, label, h("span", { class: "muted" }, " (already above)"));
  const children = h("ul", { class: "tree" });
  const details = h("details", {}, h("summary", {}, label, " ", tag("composite")), children);
  details.addEventListener("toggle", () => {
    if (!details.open || children.childElementCount) return;
    api.get(`/${seg(realm)}/roles-by-id/${seg(role.id)}/composites`).then((contained) => {
      const below = new Set(path).add(role.id);
      children.replaceChildren(...contained.map((c) => roleNode(realm, c, below, clientNames)));
      if (!contained.length) children.append(h("li", { class: "muted" }, "nothing"));
    }).catch((error) => children.replaceChildren(h("li", { class: "muted" }, error.message)));
  });
  return h("li", {}, details);
}

/** The user's direct roles, each removable, and a form to map another: a role of the realm or of a
 *  client, among those the API says this administrator may map ("available"). */
function roleMappings(realm, base, mappings) {
  const direct = [...(mappings.realmMappings || []).map((role) => ({ role, of: "realm", path: `${base}/role-mappings/realm` })),
    ...Object.values(mappings.clientMappings || {}).flatMap((c) => (c.mappings || []).map((role) => ({ role, of: c.client, path: `${base}/role-mappings/clients/${seg(c.id)}` })))];
  const container = h("select", { id: `map-container-${base.length}`, name: "container" }, h("option", { value: "" }, "the realm"));
  const role = h("select", { id: `map-role-${base.length}`, name: "role" }, h("option", { value: "" }, "Choose a role…"));
  let clientsLoaded = false;
  let loadedFor = null;
  let available = [];
  container.addEventListener("focus", () => {
    if (clientsLoaded) return;
    clientsLoaded = true;
    // An administrator who may not list clients maps realm roles only.
    api.get(`/${seg(realm)}/clients`, { max: 1000 }).then((clients) => {
      for (const c of clients) container.append(h("option", { value: c.id }, c.clientId));
    }).catch(() => {});
  });
  const load = async () => {
    const target = container.value;
    if (loadedFor === target) return;
    loadedFor = target;
    available = await api.get(target ? `${base}/role-mappings/clients/${seg(target)}/available` : `${base}/role-mappings/realm/available`);
    role.replaceChildren(h("option", { value: "" }, available.length ? "Choose a role…" : "No role you may map"),
      ...available.map((r) => h("option", { value: r.id }, r.name)));
  };
  container.addEventListener("change", () => load().catch((error) => say(error.message, "error")));
  role.addEventListener("focus", () => load().catch((error) => say(error.message, "error")));
  const form = h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const chosen = available.find((r) => r.id === role.value);
    if (!chosen) return;
    const path = container.value ? `${base}/role-mappings/clients/${seg(container.value)}` : `${base}/role-mappings/realm`;
    act(() => api.post(path, [chosen]), `Role ${chosen.name} mapped.`);
  } }, field("Roles of", container), field("Role", role), h("button", { type: "submit", class: "secondary" }, "Map role"));
  return [table(["Role", "Of", ""], direct.map(({ role: r, of, path }) => [r.name, of,
    h("button", { type: "button", class: "secondary", onclick: () => confirmed(`Remove the role ${r.name}${of === "realm" ? "" : ` of ${of}`}?`,
      () => api.remove(path, [r]), `Role ${r.name} removed.`) }, "Remove")]), "No role mapped directly."), form];
}

/** A select of the realm's groups (searched by name) the user is not in, and a Join button. */
function joinGroupForm(realm, base, user, current) {
  const select = h("select", { id: `join-${user.id}`, name: "group" }, h("option", { value: "" }, "Choose a group…"));
  const member = new Set(current.map((g) => g.id));
  let loaded = false;
  select.addEventListener("focus", () => {
    if (loaded) return;
    loaded = true;
    load().catch((error) => say(error.message, "error"));
  });
  const load = async () => {
    // The tree, breadth first, at most 500 groups and 50 requests, once the list is opened.
    const queue = await api.get(`/${seg(realm)}/groups`, { max: 500 });
    let requests = 1;
    for (let i = 0; i < queue.length && queue.length < 500 && requests < 50; i++) {
      if (queue[i].subGroupCount > 0) {
        requests += 1;
        queue.push(...await api.get(`/${seg(realm)}/groups/${seg(queue[i].id)}/children`, { max: 100 }));
      }
    }
    for (const g of queue.slice(0, 500)) if (!member.has(g.id)) select.append(h("option", { value: g.id }, g.path));
  };
  return h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const id = select.value;
    if (!id) return;
    act(() => api.put(`${base}/groups/${seg(id)}`), `${user.username} joined ${select.selectedOptions[0].textContent}.`);
  } }, field("Add to group", select), h("button", { type: "submit", class: "secondary" }, "Join"));
}

async function registryClient(realm, clientUuid, tab, query) {
  const base = `/${seg(realm)}/clients/${seg(clientUuid)}`;
  const client = await api.get(base);
  document.title = `${client.clientId} · Registry access · Keyport`;
  const tabs = h("div", { class: "tabs", role: "navigation", "aria-label": "Registry views" },
    [["matrix", "Who may do what"], ["tester", "Access tester"], ["tokens", "Tokens"], ["grants", "Grants"], ["settings", "Settings"]].map(([key, label]) =>
      link(label, ["r", realm, "registry", clientUuid, key], null, { "aria-current": key === tab ? "page" : null })));
  const header = [h("p", {}, link("← Registry access", ["r", realm, "registry"])), h("h1", {}, `Registry ${client.clientId}`), tabs];
  if (tab === "tester") return [...header, await testerView(realm, base, query)];
  if (tab === "tokens") return [...header, await tokensView(realm, base, clientUuid, query)];
  if (tab === "grants") return [...header, await grantsView(realm, base, clientUuid)];
  if (tab === "settings") return [...header, registrySettings(base, client)];
  const first = Math.max(0, parseInt(query.get("first") || "0", 10) || 0);
  const matrix = await api.get(`${base}/docker-v2-matrix`, { first, max: 50 });
  const holders = (names, more) => [names.map((n) => tag(n)), more ? h("span", { class: "muted" }, "and more") : null];
  const rows = [];
  for (const row of matrix.rows) {
    for (const grant of row.grants) {
      rows.push([h("span", { class: "mono" }, `${grant.type}:${grant.pattern}`), grant.actions.join(", "), row.role,
        [holders(row.users, row.moreUsers), holders(row.groups, row.moreGroups), holders(row.composites, row.moreComposites)]]);
    }
  }
  for (const grant of matrix.anonymous) rows.push([h("span", { class: "mono" }, `${grant.type}:${grant.pattern}`), grant.actions.join(", "), "anyone (anonymous)", ""]);
  const downloads = h("div", { class: "row" }, [
    ["docker-v2-registry-config-file", "Registry auth section (config.yml)", `${client.clientId}-auth.yml`, "text/yaml"],
    ["docker-v2-cert-bundle", "Certificate bundle", `${client.clientId}.pem`, "application/x-pem-file"],
  ].map(([provider, label, name, type]) => h("button", { type: "button", class: "secondary", onclick: () => act(async () => {
    const response = await fetch(`${api.root}${base}/installation/providers/${provider}`, { headers: { Authorization: `Bearer ${session.accessToken}` }, credentials: "omit" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    download(name, type, await response.text());
  }) }, label)));
  return [...header, downloads,
    matrix.authorization === "allow-all" ? h("p", {}, tag("allow-all", "no"), " Every user who can log in gets whatever it asks for.") : null,
    h("p", { class: "hint" }, `${matrix.total} role(s) carry grants. Holders are direct: users, groups, composite roles.`),
    table(["Repository pattern", "Actions", "Role", "Held by"], rows, "No role carries a grant yet."),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: first === 0, onclick: () => go(["r", realm, "registry", clientUuid, "matrix"], { first: Math.max(0, first - 50) }) }, "Previous"),
      h("button", { type: "button", class: "secondary", disabled: first + matrix.rows.length >= matrix.total, onclick: () => go(["r", realm, "registry", clientUuid, "matrix"], { first: first + 50 }) }, "Next"))];
}

async function testerView(realm, base, query) {
  const username = query.get("username") || "";
  const scopes = query.getAll("scope");
  const form = h("form", { onsubmit: (event) => {
    event.preventDefault();
    const v = formValues(event.target);
    const list = v.scopes.split(/\s+/).filter(Boolean);
    location.hash = `${location.hash.split("?")[0]}?${new URLSearchParams([["username", v.username], ...list.map((s) => ["scope", s])])}`;
  } }, h("div", { class: "row" }, field("Username", input("text", "username", { value: username, required: true, autocomplete: "off" }))),
  h("label", { for: "tester-scopes" }, "Scopes, as a registry asks (one per line)"),
  h("textarea", { id: "tester-scopes", name: "scopes", placeholder: "repository:team-a/app:pull,push" }, scopes.join("\n")),
  h("p", {}, h("button", { type: "submit" }, "Test")));
  if (!username) return h("div", {}, form);
  let answer;
  try { answer = await api.get(`${base}/docker-v2-access`, { username, scope: scopes }); } catch (error) { return h("div", {}, form, h("p", { class: "muted" }, error.message)); }
  const decisions = (answer.decisions || []).map((d) => [h("span", { class: "mono" }, `${d.type}:${d.name}`), d.requested.join(", "),
    d.granted.length ? d.granted.join(", ") : tag("nothing", "no"),
    d.because.map((b) => h("div", {}, h("span", { class: "mono" }, b.grant), ` via ${b.role ?? "allow-all"} → ${b.actions.join(", ")}`))]);
  const sources = Object.entries(answer.roleSources || {}).map(([role, list]) => [role, list.join("; ")]);
  return h("div", {}, form,
    h("h2", {}, `Can ${answer.username} log in?`),
    answer.canLogIn ? h("p", {}, tag("yes", "yes")) : h("ul", {}, (answer.refusals || []).map((r) => h("li", {}, r))),
    h("h2", {}, "Decisions"), table(["Resource", "Asked", "Granted", "Because"], decisions, "No scope asked: a login only."),
    h("h2", {}, "How the user holds its registry roles"), table(["Role", "Through"], sources, "No role of this registry."));
}

async function tokensView(realm, base, clientUuid, query) {
  const kind = query.get("kind") === "identity-token" ? "identity-token" : "personal-access-token";
  const first = Math.max(0, parseInt(query.get("first") || "0", 10) || 0);
  const list = await api.get(`${base}/docker-v2-tokens`, { kind, first, max: 50 });
  const here = (extra) => go(["r", realm, "registry", clientUuid, "tokens"], { kind, first, ...extra });
  const revoke = (t) => kind === "identity-token"
    ? confirmed(`Revoke ${t.username}'s identity token? That machine must docker login again.`, () => api.delete(`/${seg(realm)}/sessions/${seg(t.id)}`, { isOffline: true }), "Identity token revoked.")
    : confirmed(`Revoke ${t.username}'s token ${t.name}? Whatever uses it is refused from now on.`,
      () => api.delete(`/${seg(realm)}/users/${seg(t.userId)}/personal-access-tokens/${seg(t.id)}`), `Token ${t.name} revoked.`);
  return h("div", {},
    h("div", { class: "row" },
      h("button", { type: "button", class: kind === "personal-access-token" ? "" : "secondary", onclick: () => here({ kind: "personal-access-token", first: 0 }) }, "Personal access tokens"),
      h("button", { type: "button", class: kind === "identity-token" ? "" : "secondary", onclick: () => here({ kind: "identity-token", first: 0 }) }, "Identity tokens")),
    table(["Owner", "Name", "Grants", "Created", "Ends", "Last use", "Address", ""], list.map((t) => [
      link(t.username, ["r", realm, "users", t.userId]), t.name || "docker login", (t.grants || ["all its owner may"]).join(", "),
      time(t.createdAt), time(t.expiresAt), time(t.lastUsedAt), t.lastUsedIp || "",
      h("button", { type: "button", class: "danger", onclick: () => revoke(t) }, "Revoke")]), "No token."),
    h("div", { class: "pager" },
      h("button", { type: "button", class: "secondary", disabled: first === 0, onclick: () => here({ first: Math.max(0, first - 50) }) }, "Previous"),
      h("button", { type: "button", class: "secondary", disabled: list.length < 50, onclick: () => here({ first: first + 50 }) }, "Next")));
}

/** The server's parser on grants as they are typed (a short pause after the last key). */
const checks = new WeakMap();
function checkGrants(base, text, target) {
  // One pending check per editor; an answer to older text never replaces a newer one.
  const state = checks.get(target) || { timer: null, asked: 0 };
  checks.set(target, state);
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    const asked = ++state.asked;
    const grants = text.split("\n").map((s) => s.trim()).filter(Boolean).slice(0, 50);
    if (!grants.length) { target.replaceChildren(); return; }
    try {
      const answers = await api.get(`${base}/docker-v2-grant-check`, { grant: grants });
      if (asked !== state.asked) return;
      target.replaceChildren(...answers.map((a) => h("div", { class: a.valid ? "ok" : "bad" },
        a.valid ? `✓ ${a.type} ${a.pattern}: ${a.actions.join(", ")}` : `✗ ${a.message}`)));
    } catch (error) {
      if (asked === state.asked) target.replaceChildren(h("div", { class: "bad" }, error.message));
    }
  }, 300);
}

async function grantsView(realm, base, clientUuid) {
  const roles = await api.get(`${base}/roles`, { max: 1000, briefRepresentation: false });
  const save = (role, text) => act(async () => {
    const current = await api.get(`${base}/roles/${seg(role.name)}`);
    const attributes = { ...(current.attributes || {}), "docker.grant": text.split("\n").map((s) => s.trim()).filter(Boolean) };
    await api.put(`${base}/roles/${seg(role.name)}`, { ...current, attributes });
  }, `Grants of ${role.name} saved.`);
  const editors = roles.map((role) => {
    const area = h("textarea", { id: `grants-${role.id}`, name: "grants", "aria-describedby": `check-${role.id}` },
      ((role.attributes || {})["docker.grant"] || []).join("\n"));
    const check = h("div", { id: `check-${role.id}`, class: "check", "aria-live": "polite" });
    area.addEventListener("input", () => checkGrants(base, area.value, check));
    return h("form", { class: "card", onsubmit: (event) => { event.preventDefault(); save(role, area.value); } },
      h("label", { for: area.id }, `${role.name}: one grant per line (type:pattern:actions)`), area, check, h("p", {}, h("button", { type: "submit" }, "Save")));
  });
  const create = h("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    const v = formValues(event.target);
    act(() => api.post(`${base}/roles`, { name: v.name, attributes: { "docker.grant": [v.grant] } }), `Role ${v.name} created.`);
  } }, field("Role", input("text", "name", { required: true })), field("Grant", input("text", "grant", { required: true, placeholder: "repository:team-a/*:pull,push" })),
  h("button", { type: "submit" }, "Add role"));
  return h("div", {}, h("p", { class: "hint" }, "The server checks each grant as you type, and again when you save: a wrong one is refused with the reason."),
    h("div", { class: "stack" }, editors), h("h2", {}, "New role with a grant"), create);
}

/** The realm's keys and the rotation that never locks a registry out: the server takes each step
 *  (`keys/rotation`) and says what to do before the next one (refresh the registry's bundle). */
function keysSection(realm, keys) {
  const signing = new Set(Object.values(keys.active || {}));
  const step = (algorithm, retire) => async () => {
    const done = await api.post(`/${seg(realm)}/keys/rotation`, { algorithm, retire });
    say(`${done.message}.${done.next ? ` Next: ${done.next}.` : ""}`, "ok");
  };
  const algorithms = [...new Set(keys.keys.map((k) => k.algorithm))].sort();
  return [table(["Algorithm", "Key id", "Status", "Priority", "libtrust id (registry kid)"], keys.keys.map((k) => [
    k.algorithm, h("span", { class: "mono" }, k.kid), [k.status.toLowerCase(), signing.has(k.kid) ? [" ", tag("signs", "yes")] : null],
    String(k.providerPriority), h("span", { class: "mono" }, k.libtrustKeyId || "")]), "No key."),
  h("p", { class: "hint" }, "A registry reads its certificate bundle only when it starts. A rotation is three steps: add a passive key, ",
    "refresh the registry's bundle and restart it; make the new key sign (the old one still verifies); after the longest token lifetime, retire the old key."),
  algorithms.map((algorithm) => h("div", { class: "row" },
    h("button", { type: "button", class: "secondary", onclick: () => act(step(algorithm, false), "") }, `${algorithm}: next rotation step`),
    h("button", { type: "button", class: "secondary", onclick: () =>
      confirmed(`Retire the old ${algorithm} keys? Tokens they signed stop verifying.`, step(algorithm, true), "") }, `${algorithm}: retire old keys`)))];
}

/** A registry client's settings: who decides access, what anyone may pull, identity tokens, the
 *  token's signature and x5c header. Saved through the API, which checks them. */
function registrySettings(base, client) {
  const a = client.attributes || {};
  const option = (value, label, current) => h("option", { value, selected: value === current }, label);
  const form = h("form", { class: "stack", onsubmit: (event) => {
    event.preventDefault();
    const v = formValues(event.target);
    const attributes = { ...a, "docker.authorization": v.authorization, "docker.anonymous.grant": v.anonymous.split(/\s+/).filter(Boolean).join(" "),
      "docker.identity.tokens": v.identityTokens === "on" ? "true" : "false", "docker.token.x5c": v.x5c === "on" ? "true" : "false",
      "docker.signature.algorithm": v.algorithm };
    act(() => api.put(base, { ...client, enabled: v.enabled === "on", attributes }), `Settings of ${client.clientId} saved.`);
  } },
  h("label", { class: "check" }, input("checkbox", "enabled", { checked: client.enabled !== false }), "Enabled (a disabled registry gets no token)"),
  h("div", {}, h("label", { for: "f-authorization" }, "Who decides access"), h("select", { id: "f-authorization", name: "authorization" },
    option("roles", "roles: each role's grants (recommended)", a["docker.authorization"] || "roles"),
    option("allow-all", "allow-all: every user who logs in gets what it asks for (Keycloak's behaviour)", a["docker.authorization"] || "roles"))),
  h("div", {}, h("label", { for: "f-anonymous" }, "What anyone may do without logging in (grants, separated by spaces or lines)"),
    h("textarea", { id: "f-anonymous", name: "anonymous", placeholder: "repository:public/*:pull" }, (a["docker.anonymous.grant"] || "").split(" ").filter(Boolean).join("\n"))),
  h("label", { class: "check" }, input("checkbox", "identityTokens", { checked: a["docker.identity.tokens"] !== "false" }),
    "Identity tokens: docker login keeps a revocable token instead of the password"),
  h("div", {}, h("label", { for: "f-algorithm" }, "Signature"), h("select", { id: "f-algorithm", name: "algorithm" },
    option("RS256", "RS256 (every registry)", a["docker.signature.algorithm"] || "RS256"), option("ES256", "ES256", a["docker.signature.algorithm"] || "RS256"))),
  h("label", { class: "check" }, input("checkbox", "x5c", { checked: a["docker.token.x5c"] !== "false" }),
    "Tokens carry the signing certificate (x5c): off for a registry 3 that trusts a JWKS only"),
  h("div", {}, h("button", { type: "submit" }, "Save")));
  return h("div", {}, form);
}

// MARK: Start

// A realm's console opens on its users; the server's on its realms.
start(session, render, () => {
  if ((!location.hash || location.hash === "#/") && session.realm !== "master") { go(["r", session.realm, "users"]); return false; }
  return true;
});
