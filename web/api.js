// HTTP client for the voice agent API: base URL, bearer token, one error shape.
//
// Every route answers errors as {"error": "<message>"}; ApiError carries that message and the
// status so the page can show it as it is.

/** An API call that did not succeed: `status` is 0 when the API could not be reached. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** Join a base URL ("" = same origin) and an absolute path. */
export function joinUrl(base, path) {
  const trimmed = (base || "").trim().replace(/\/+$/, "");
  return trimmed + path;
}

async function readError(response) {
  let detail = "";
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string") detail = body.error;
      else if (body && body.error && typeof body.error.message === "string") detail = body.error.message;
      else if (body && typeof body.message === "string") detail = body.message;
    } catch {
      detail = text.slice(0, 200);
    }
  } catch {
    /* body unreadable: the status alone has to do */
  }
  const prefix = response.status === 401 ? "Not signed in or sign-in expired" :
    response.status === 403 ? "Access denied" :
    response.status === 429 ? "Too many requests" : `HTTP ${response.status}`;
  const retry = response.headers.get("Retry-After");
  let message = detail ? `${prefix}: ${detail}` : prefix;
  if (retry) message += ` (retry after ${retry} s)`;
  return new ApiError(response.status, message);
}

/** Talks to the API with the signed-in user's JWT. */
export class ApiClient {
  /**
   * @param {{baseUrl: () => string, token: () => string | null, fetchImpl?: typeof fetch}} options
   */
  constructor({ baseUrl, token, fetchImpl }) {
    this.baseUrl = baseUrl;
    this.token = token;
    this.fetch = fetchImpl || window.fetch.bind(window);
  }

  async request(method, path, { body, auth = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = this.token();
    if (auth && token) headers.Authorization = `Bearer ${token}`;
    const url = joinUrl(this.baseUrl(), path);
    let response;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, `Cannot reach the API at ${this.baseUrl() || window.location.origin}: ${err.message}`);
    }
    if (!response.ok) throw await readError(response);
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /** True when the dev server's one-click sign-in route answers (dev mode only). */
  async hasDevSignIn() {
    try {
      const response = await this.fetch(joinUrl(this.baseUrl(), "/dev/token"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      // 2xx (token for a default user) or a validation error both mean the route exists.
      return response.ok || response.status === 400 || response.status === 422;
    } catch {
      return false;
    }
  }

  async devToken(user) {
    const body = await this.request("POST", "/dev/token", { body: { user }, auth: false });
    if (!body || typeof body.token !== "string") throw new ApiError(500, "The dev token route returned no token");
    return body.token;
  }

  options() { return this.request("GET", "/api/voice-agent/options"); }

  mintSession({ model, voice }) {
    const body = {};
    if (model) body.model = model;
    if (voice) body.voice = voice;
    return this.request("POST", "/api/voice-agent", { body });
  }

  searchMemories(query, limit, filters) {
    const body = { query };
    if (limit !== undefined && limit !== null) body.limit = limit;
    if (filters && typeof filters === "object" && Object.keys(filters).length) body.filters = filters;
    return this.request("POST", "/api/memory/search", { body });
  }

  /** One page of GET /api/memory/export ({format, total, memories, next_cursor}). */
  exportMemories({ limit = 500, cursor } = {}) {
    const params = new URLSearchParams({ limit: String(limit) });
    if (cursor) params.set("cursor", cursor);
    return this.request("GET", `/api/memory/export?${params}`);
  }

  /** Every page of the export, as one document in the export's own shape. */
  async exportAllMemories() {
    const memories = [];
    let page = await this.exportMemories();
    memories.push(...page.memories);
    while (page.next_cursor) {
      page = await this.exportMemories({ cursor: page.next_cursor });
      memories.push(...page.memories);
    }
    return { format: page.format, total: memories.length, memories, next_cursor: null };
  }

  forgetAllMemories() {
    return this.request("DELETE", "/api/memory");
  }

  addMemories(messages, metadata) {
    const body = { messages };
    if (metadata) body.metadata = metadata;
    return this.request("POST", "/api/memory", { body });
  }

  listMemories({ limit = 20, cursor } = {}) {
    const params = new URLSearchParams({ limit: String(limit) });
    if (cursor) params.set("cursor", cursor);
    return this.request("GET", `/api/memory?${params}`);
  }

  memoryJob(jobId) {
    return this.request("GET", `/api/memory/jobs/${encodeURIComponent(jobId)}`);
  }

  deleteMemory(id) {
    return this.request("DELETE", `/api/memory/${encodeURIComponent(id)}`);
  }

  webSearch(query, maxResults) {
    const body = { query };
    if (maxResults) body.max_results = maxResults;
    return this.request("POST", "/api/search", { body });
  }
}

/** The `sub` claim of a JWT, for display only (the API verifies the token, not the page). */
export function tokenSubject(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
    return typeof json.sub === "string" ? json.sub : null;
  } catch {
    return null;
  }
}
