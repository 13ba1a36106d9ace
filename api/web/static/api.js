// A small client of the Mastodon-compatible API: bearer token, JSON or form bodies, the `Link` header's
// pages, and errors a person can read (a 429 says how long to wait).

export class ApiError extends Error {
  constructor(status, message, retryAfter = null, details = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
    this.details = details;
  }
}

/** Seconds to wait after a 429: Retry-After, else X-RateLimit-Reset (a date). */
function waitOf(response) {
  const after = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  if (Number.isFinite(after)) return Math.max(after, 1);
  const reset = Date.parse(response.headers.get("X-RateLimit-Reset") || "");
  return Number.isFinite(reset) ? Math.max(Math.ceil((reset - Date.now()) / 1000), 1) : null;
}

/** The `Link` header as {next, prev} URLs. */
export function links(header) {
  const out = {};
  for (const part of (header || "").split(",")) {
    const m = part.match(/<([^>]+)>\s*;\s*rel="?(\w+)"?/);
    if (m) out[m[2]] = m[1];
  }
  return out;
}

export function duration(seconds) {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.ceil(seconds / 60)} min`;
  return `${Math.ceil(seconds / 3600)} h`;
}

function messageOf(status, body, wait) {
  if (status === 429) {
    return wait ? `Too many requests: please wait ${duration(wait)} and try again.` : "Too many requests: please wait a moment and try again.";
  }
  const said = body && (body.error_description || body.error || body.detail);
  if (typeof said === "string" && said) return said;
  if (status === 401) return "Your session has ended: please sign in again.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 404) return "Not found.";
  if (status === 413) return "That file is too large.";
  if (status >= 500) return "The server could not answer just now; try again in a moment.";
  return `The request failed (${status}).`;
}

export class Api {
  constructor(base, token = null) {
    this.base = base.replace(/\/$/, "");
    this.token = token;
    this.onUnauthorized = null;
  }

  url(path, query) {
    const url = new URL(path.startsWith("http") ? path : this.base + path);
    for (const [k, v] of Object.entries(query || {})) {
      if (v === null || v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) url.searchParams.append(`${k}[]`, item);
      else url.searchParams.set(k, v);
    }
    return url.toString();
  }

  /** {data, links, response}; throws ApiError (status 0 when the server cannot be reached). */
  async request(method, path, { query, json, form, body, headers, auth = true, token } = {}) {
    const init = { method, headers: { Accept: "application/json", ...(headers || {}) } };
    const bearer = token || (auth ? this.token : null);
    if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (form !== undefined) {
      init.body = new URLSearchParams(form);
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await fetch(this.url(path, query), init);
    } catch {
      throw new ApiError(0, "The server cannot be reached. Check your connection and try again.");
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) {
      const wait = response.status === 429 ? waitOf(response) : null;
      const error = new ApiError(response.status, messageOf(response.status, data, wait), wait, data && data.details);
      if (response.status === 401 && bearer === this.token && this.onUnauthorized) this.onUnauthorized(error);
      throw error;
    }
    return { data, links: links(response.headers.get("Link")), response };
  }

  async get(path, query, opts) {
    return (await this.request("GET", path, { ...opts, query })).data;
  }

  async page(path, query) {
    return this.request("GET", path, { query });
  }

  async post(path, json, opts) {
    return (await this.request("POST", path, { ...opts, json })).data;
  }

  async put(path, json) {
    return (await this.request("PUT", path, { json })).data;
  }

  async del(path) {
    return (await this.request("DELETE", path)).data;
  }
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
