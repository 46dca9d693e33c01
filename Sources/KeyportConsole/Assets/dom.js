// What both consoles build their pages with. Every value from the server reaches the page as
// text (`textContent`, attributes set one by one), never as markup.

/** One path segment of an API URL. `.` and `..` would be folded away by the URL parser and reach
 *  another resource (a crafted link to `#/r/acme/users/..` must not aim "Leave" at a group). */
export function seg(value) {
  const text = String(value ?? "");
  if (text === "" || text === "." || text === "..") throw new Error(`Not a valid name or id: '${text}'`);
  return encodeURIComponent(text);
}

/** An element with attributes (`on…` functions become listeners) and children (strings are text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function table(headers, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

export function tag(text, kind = "") { return h("span", { class: `tag ${kind}` }, text); }
export function time(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—"; }
export function field(label, input) { return h("div", {}, h("label", { for: input.id }, label), input); }
let fieldCount = 0;
export function input(type, name, extra = {}) { return h("input", { type, name, id: `f-${name}-${++fieldCount}`, ...extra }); }

export function say(message, kind = "ok") {
  const banner = document.getElementById("banner");
  banner.textContent = message;
  banner.className = kind;
  banner.hidden = !message;
}

/** `act` runs an action, saying what went wrong if it fails, else draws the page again with
 *  `render` and then says `done` (a message, or a function of the action's result) — so a message
 *  on the page means the page shows the result; `confirmed` does so for an action that cannot be
 *  undone, once the person agrees. */
export function actions(render) {
  async function act(work, done) {
    try {
      const result = await work();
      await render();
      const message = typeof done === "function" ? done(result) : done;
      if (message) say(message, "ok");
    } catch (error) {
      say(error.message, "error");
    }
  }
  function confirmed(question, work, done) {
    if (window.confirm(question)) act(work, done);
  }
  return { act, confirmed };
}

export function formValues(form) { return Object.fromEntries(new FormData(form).entries()); }

/** CSV with every cell quoted; a cell a spreadsheet would run as a formula starts with a quote. */
export function csv(headers, rows) {
  const cell = (value) => {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return `"${text.replace(/"/g, '""')}"`;
  };
  return [headers, ...rows].map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const anchor = h("a", { href: url, download: name });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A console's start: sign in (or finish signing in), say who, then draw the page. `ready` runs
 *  once signed in, before the first page; false when it navigated instead (the hash change draws). */
export function start(session, render, ready) {
  const app = document.getElementById("app");
  document.getElementById("logout").addEventListener("click", () => session.logout());
  window.addEventListener("hashchange", () => { say(""); render(); });
  (async () => {
    try {
      if (!(await session.start())) return;
      document.getElementById("who").textContent = session.claims.preferred_username || "";
      document.getElementById("logout").hidden = false;
      if (!ready()) return;
      await render();
      app.focus();
    } catch (error) {
      app.replaceChildren(h("h1", {}, "Could not sign in"), h("p", {}, error.message),
        h("p", {}, h("button", { type: "button", onclick: () => session.login() }, "Try again")));
    }
  })();
}
