// The one place the page talks to medcode's API. The key lives in sessionStorage (this tab, this
// session) and nowhere else; responses carrying note text are fetched with cache: "no-store" so the
// browser never writes them to its HTTP cache.

const KEY = "medcode.apiKey";
const CODER = "medcode.coder";

export class ApiError extends Error {
  /** A problem body (RFC 9457) from the API: status, stable code (E0xx), title and detail. */
  constructor(status, problem) {
    const text = problem.detail || problem.title || problem.message || `HTTP ${status}`;
    super(problem.code ? `${problem.code}: ${text}` : text);
    this.status = status;
    this.code = problem.code || null;
    this.problem = problem;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ""; },
  get coder() { return sessionStorage.getItem(CODER) || ""; },
  signIn(key, coder) {
    sessionStorage.setItem(KEY, key.trim());
    sessionStorage.setItem(CODER, coder.trim());
  },
  signOut() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(CODER);
  },
};

let onUnauthorized = () => {};
/** Called when the API refuses the key (401), so the page can ask for it again. */
export function whenUnauthorized(handler) { onUnauthorized = handler; }

async function request(method, path, { body, query, accept = "application/json", raw = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { Accept: accept, Authorization: `Bearer ${session.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, cache: "no-store", credentials: "omit",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch { /* a non-JSON error body: keep the status */ }
    if (response.status === 401) onUnauthorized();
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

const enc = encodeURIComponent;

export const api = {
  worklist: (status = "pending") => request("GET", "/v1/encounters", { query: { status, limit: 500 } }),
  encounter: (id) => request("GET", `/v1/encounters/${enc(id)}`),
  decide: (id, decision) => request("POST", `/v1/encounters/${enc(id)}/decisions`,
    { body: { coder: session.coder, ...decision } }),
  submit: (id) => request("POST", `/v1/encounters/${enc(id)}/submit`),
  search: (q, system, limit = 10) => request("GET", "/v1/codes/search", { query: { q, system, limit } }),
  code: (system, code) => request("GET", `/v1/codes/${enc(system)}/${enc(code)}`),
  denials: (query = {}) => request("GET", "/v1/denials", { query }),
  codingMetrics: () => request("GET", "/v1/metrics/coding"),
  exportFile: (id, format) => request("GET", `/v1/encounters/${enc(id)}/codes`,
    { query: { format }, accept: "*/*", raw: true }),
};
