// Browser storage and the user's settings (Settings panel, plus test-only URL parameters).

const params = new URLSearchParams(window.location.search);

export const store = {
  get: (key, fallback = "") => { try { return localStorage.getItem(key) ?? fallback; } catch { return fallback; } },
  set: (key, value) => { try { localStorage.setItem(key, value); } catch { /* private mode */ } },
  getSession: (key) => { try { return sessionStorage.getItem(key); } catch { return null; } },
  setSession: (key, value) => {
    try { if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key); } catch { /* private mode */ }
  },
};

export const settings = {
  // Only what the user saved in Settings, never the URL: a crafted link must not send the
  // token to another host. Empty = the page's own origin.
  apiBase: () => store.get("va.apiBase"),
  transport: () => params.get("transport") || store.get("va.transport", "webrtc"),
  // ?rollover=<seconds> exists for tests and demos; the setting is in minutes.
  rolloverMs: () => (params.has("rollover") ? Number(params.get("rollover")) * 1000 :
    Math.min(59, Math.max(1, Number(store.get("va.rolloverMinutes", "55")) || 55)) * 60000),
  backoffBaseMs: () => Number(params.get("backoff")) || 1000,
};

const $ = (id) => document.getElementById(id);

function showApiInUse() {
  const base = settings.apiBase().trim();
  $("api-in-use").textContent = base ?
    `API: ${base} (set in Settings)` : `API: this page's server (${window.location.origin})`;
}

/** Fill the Settings form and save its changes; `onApiChanged` runs after a new API base. */
export function bindSettingsForm({ onApiChanged }) {
  $("api-base").value = store.get("va.apiBase");
  showApiInUse();
  $("api-form").addEventListener("submit", (event) => {
    event.preventDefault();
    store.set("va.apiBase", $("api-base").value.trim());
    showApiInUse();
    onApiChanged();
  });
  $("transport-select").value = settings.transport();
  $("transport-select").addEventListener("change", (e) => store.set("va.transport", e.target.value));
  $("rollover-minutes").value = String(Math.round(settings.rolloverMs() / 60000) || 1);
  $("rollover-minutes").addEventListener("change", (e) => store.set("va.rolloverMinutes", e.target.value));
}
