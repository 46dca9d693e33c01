// Signing a person in: the authorization code flow with PKCE (S256) as one of the realm's public
// console clients (`security-admin-console`, `account-console`). Tokens live in this module's
// memory only; a reload signs in again through the single sign-on cookie without a form.

export class Session {
  /** `clientId`: the console's client; `appUrl`: its page, the redirect URI. */
  constructor(realm, base, { clientId, appUrl }) {
    this.realm = realm;
    this.base = base;
    this.clientId = clientId;
    this.consoleUrl = appUrl;
    this.oidc = `${base}/realms/${encodeURIComponent(realm)}/protocol/openid-connect`;
    this.accessToken = null;
    this.refreshToken = null;
    this.idToken = null;
    this.claims = {};
    this.refreshTimer = null;
    this.actionStatus = null;
    this.receivedAt = 0;
  }

  /** Finishes a sign-in the authorization endpoint redirected back from, or starts one. */
  async start() {
    const query = new URLSearchParams(location.search);
    if (query.has("error")) {
      throw new Error(`Sign-in failed: ${query.get("error_description") || query.get("error")}`);
    }
    if (query.has("state") && !query.has("code") && query.has("kc_action_status")) {
      // An action cancelled on its page: no code, so a silent sign-in, the outcome carried along.
      const saved = this.takeSaved(query.get("state"));
      history.replaceState(null, "", this.consoleUrl + (saved && saved.hash ? saved.hash : ""));
      await this.login({}, query.get("kc_action_status"));
      return false;
    }
    if (query.has("code")) {
      const saved = this.takeSaved(query.get("state"));
      // The address bar loses the code at once: a copied URL or a reload cannot replay it.
      history.replaceState(null, "", this.consoleUrl + (saved && saved.hash ? saved.hash : ""));
      if (!saved) { await this.login(); return false; }
      // After an action the application asked for (`kc_action`): `success` or `cancelled`.
      this.actionStatus = query.get("kc_action_status") || saved.status || null;
      await this.token({ grant_type: "authorization_code", code: query.get("code"), redirect_uri: this.consoleUrl, code_verifier: saved.verifier });
      return true;
    }
    await this.login();
    return false;
  }

  /** Sends the browser to the authorization endpoint; the verifier waits in this tab's storage. */
  /** What `login` left for the answer to `state`, taken (used once). */
  takeSaved(state) {
    const key = `kp-login-${state || ""}`;
    const saved = JSON.parse(sessionStorage.getItem(key) || "null");
    sessionStorage.removeItem(key);
    return saved;
  }

  /** `extra`: more authorization parameters (`kc_action`, `prompt`, `max_age`); `status`: an
   *  action's outcome to report once signed in. */
  async login(extra = {}, status = null) {
    const verifier = randomText(48);
    const state = randomText(24);
    sessionStorage.setItem(`kp-login-${state}`, JSON.stringify({ verifier, hash: location.hash, status }));
    const challenge = base64url(await sha256(new TextEncoder().encode(verifier)));
    const params = new URLSearchParams({
      client_id: this.clientId, redirect_uri: this.consoleUrl, response_type: "code", scope: "openid",
      state, code_challenge: challenge, code_challenge_method: "S256", ...extra,
    });
    location.assign(`${this.oidc}/auth?${params}`);
  }

  /** Whether the password was given within `seconds`, by the server's clock: the token's age at
   *  issue (`iat - auth_time`) plus the time since it arrived (a browser's clock may be off). */
  signedInWithin(seconds) {
    const { auth_time: authTime, iat } = this.claims;
    if (typeof authTime !== "number" || typeof iat !== "number") return false;
    return iat - authTime + (performance.now() - this.receivedAt) / 1000 < seconds;
  }

  async token(form) {
    const response = await fetch(`${this.oidc}/token`, {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: this.clientId, ...form }), credentials: "omit",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error_description || body.error || `HTTP ${response.status}`);
    this.accessToken = body.access_token;
    this.refreshToken = body.refresh_token || this.refreshToken;
    this.idToken = body.id_token || this.idToken;
    this.claims = decodeClaims(this.accessToken);
    this.receivedAt = performance.now();
    clearTimeout(this.refreshTimer);
    // Refreshed a little before it ends; if that fails, the next call signs in again.
    // (A realm may give tokens for years: a timer past 2^31 ms would fire at once, so an hour at most.)
    const seconds = Math.min(3600, Math.max(5, (body.expires_in || 60) - 20));
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), seconds * 1000);
  }

  async refresh() {
    if (!this.refreshToken) throw new Error("not signed in");
    await this.token({ grant_type: "refresh_token", refresh_token: this.refreshToken });
  }

  logout() {
    const params = new URLSearchParams({ client_id: this.clientId, post_logout_redirect_uri: this.consoleUrl });
    if (this.idToken) params.set("id_token_hint", this.idToken);
    this.accessToken = this.refreshToken = this.idToken = null;
    location.assign(`${this.oidc}/logout?${params}`);
  }
}

function decodeClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function randomText(bytes) {
  const buffer = new Uint8Array(bytes);
  crypto.getRandomValues(buffer);
  return base64url(buffer);
}

function base64url(bytes) {
  let binary = "";
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** SHA-256: the browser's own where it offers it (secure contexts), else FIPS 180-4 here. */
async function sha256(data) {
  if (globalThis.crypto && crypto.subtle) return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  const k = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const length = data.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(data);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length << 3) >>> 0);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(i * 4, h[i]);
  return out;
}
