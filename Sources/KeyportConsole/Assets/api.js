// The server's REST API (the admin API for the admin console, the account API for the account
// console) with the signed-in person's token: a console's only way to read or change anything,
// so the API's permission rules are the console's.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class Api {
  /** `root`: the API's URL, the paths below are relative to it. */
  constructor(session, root) {
    this.session = session;
    this.root = root;
  }

  /** `path` under the API's root, with `query` (null values left out) and a JSON `body`. */
  async call(method, path, { query, body } = {}) {
    const url = new URL(this.root + path);
    for (const [name, value] of Object.entries(query || {})) {
      if (value === null || value === undefined || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(name, v));
      else url.searchParams.set(name, value);
    }
    const send = () => fetch(url, {
      method, credentials: "omit",
      headers: { Authorization: `Bearer ${this.session.accessToken}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    let response = await send();
    if (response.status === 401 && this.session.refreshToken) {
      // An access token that ended under a slow page: refresh once, then ask again.
      try { await this.session.refresh(); response = await send(); } catch { await this.session.login(); }
    }
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!response.ok) {
      const message = (json && (json.errorMessage || json.error_description || json.error)) || text || `HTTP ${response.status}`;
      throw new ApiError(response.status, response.status === 403 ? `You may not do this (${message}).` : message);
    }
    return json;
  }

  get(path, query) { return this.call("GET", path, { query }); }
  post(path, body, query) { return this.call("POST", path, { body, query }); }
  put(path, body) { return this.call("PUT", path, { body }); }
  delete(path, query) { return this.call("DELETE", path, { query }); }
  /** DELETE with a JSON body (Keycloak's role-mapping removals). */
  remove(path, body) { return this.call("DELETE", path, { body }); }

  /** Every page of a paged list, at most `limit` items. */
  async all(path, query = {}, limit = 1000) {
    const items = [];
    for (let first = 0; items.length < limit; first += 100) {
      const page = await this.get(path, { ...query, first, max: 100 });
      items.push(...page);
      if (page.length < 100) break;
    }
    return items.slice(0, limit);
  }
}
