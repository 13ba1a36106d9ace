// Signing up and in the way a Mastodon web client does, through the public API only:
// the app registers itself (POST /api/v1/apps, once per browser), sign-up uses an app token
// (client_credentials) for POST /api/v1/accounts, and sign-in is OAuth's authorization code with PKCE S256
// through the server's own /oauth/authorize page, which sends the browser back here with ?code=.

import { sha256 } from "./sha256.js";

const SCOPES = "read write follow push";
const APP_KEY = "chirp.app";
const SESSION_KEY = "chirp.session";
const PENDING_KEY = "chirp.pending";

function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function challengeOf(verifier) {
  const data = new TextEncoder().encode(verifier);
  // crypto.subtle exists only on secure origins (https, or loopback); elsewhere the small fallback hashes it
  const digest = crypto.subtle ? new Uint8Array(await crypto.subtle.digest("SHA-256", data)) : sha256(data);
  return b64url(digest);
}

export function redirectUri() {
  return `${location.origin}/`;
}

export function loadSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveSession(session) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

/** The client application this browser registered (again when the server no longer knows it). */
export async function clientApp(api, fresh = false) {
  const stored = fresh ? null : JSON.parse(localStorage.getItem(APP_KEY) || "null");
  if (stored && stored.base === api.base && stored.redirect_uri === redirectUri()) return stored;
  const app = await api.post(
    "/api/v1/apps",
    { client_name: "chirp web", redirect_uris: redirectUri(), scopes: SCOPES, website: location.origin },
    { auth: false },
  );
  const kept = { base: api.base, redirect_uri: redirectUri(), client_id: app.client_id, client_secret: app.client_secret };
  localStorage.setItem(APP_KEY, JSON.stringify(kept));
  return kept;
}

async function withApp(api, use) {
  try {
    return await use(await clientApp(api));
  } catch (err) {
    if (err.status !== 401) throw err; // an app the server forgot (a reset): register again, once
    return use(await clientApp(api, true));
  }
}

/** Registers an account; answers the user's token. */
export async function signUp(api, { username, email, password, agreement, locale }) {
  return withApp(api, async (app) => {
    const grant = await api.request("POST", "/oauth/token", {
      auth: false,
      form: { grant_type: "client_credentials", client_id: app.client_id, client_secret: app.client_secret, scope: SCOPES },
    });
    const made = await api.request("POST", "/api/v1/accounts", {
      token: grant.data.access_token,
      json: { username, email, password, agreement, locale },
    });
    return made.data.access_token;
  });
}

/** Sends the browser to the server's sign-in page; it comes back to `/?code=...&state=...`. */
export async function startSignIn(api, returnTo = "/") {
  const app = await clientApp(api);
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo }));
  const url = api.url("/oauth/authorize", {
    response_type: "code",
    client_id: app.client_id,
    redirect_uri: app.redirect_uri,
    scope: SCOPES,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  location.assign(url);
}

/** After the sign-in page: the token for ?code=, or null when this page load is not such a return. */
export async function finishSignIn(api) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, "", pending?.returnTo || "/");
  if (params.has("error")) {
    throw new Error(params.get("error") === "access_denied" ? "Sign-in was cancelled." : `Sign-in failed: ${params.get("error_description") || params.get("error")}`);
  }
  if (!pending || pending.state !== params.get("state")) throw new Error("Sign-in failed: this answer is not for a sign-in started here. Try again.");
  const app = await clientApp(api);
  const answer = await api.request("POST", "/oauth/token", {
    auth: false,
    form: {
      grant_type: "authorization_code",
      code: params.get("code"),
      client_id: app.client_id,
      redirect_uri: app.redirect_uri,
      code_verifier: pending.verifier,
      scope: SCOPES,
    },
  });
  return answer.data.access_token;
}

/** Revokes the token (best effort) and forgets it. */
export async function signOut(api) {
  const app = JSON.parse(localStorage.getItem(APP_KEY) || "null");
  if (app && api.token) {
    try {
      await api.request("POST", "/oauth/revoke", {
        auth: false,
        form: { client_id: app.client_id, client_secret: app.client_secret, token: api.token },
      });
    } catch {
      // the token is forgotten here either way
    }
  }
  clearSession();
}
