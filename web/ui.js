// Page-wide bits every part uses: element lookup, the error banner, the status line, the theme.

import { store } from "./settings.js";

export const $ = (id) => document.getElementById(id);

export function showError(message) {
  $("error-text").textContent = message;
  $("error-banner").hidden = false;
}

export function clearError() {
  $("error-banner").hidden = true;
  $("error-text").textContent = "";
}

/** An error as one line for the user (a 401 says what to do about it). */
export function describe(err) {
  const message = err && err.message ? err.message : String(err);
  return err && err.status === 401 ? `${message} — sign out and sign in again.` : message;
}

/** "1 memory", "3 memories". */
export function countOf(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

const STATE_LABELS = {
  idle: "Not connected",
  connecting: "Connecting…",
  renewing: "Renewing session…",
  reconnecting: "Reconnecting…",
  connected: "Connected",
  ended: "Conversation ended",
  error: "Connection failed",
};

export function setStatus(name, detail = "") {
  $("status").dataset.state = name;
  const label = STATE_LABELS[name] || name;
  $("status-text").textContent = detail ? `${label} — ${detail}` : label;
}

export function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  store.set("va.theme", theme);
  const dark = theme === "dark";
  $("theme-toggle").setAttribute("aria-pressed", String(dark));
  $("theme-toggle").textContent = dark ? "Light theme" : "Dark theme";
}

/** The theme toggle and the error banner's dismiss button. */
export function bindPageControls() {
  $("theme-toggle").addEventListener("click", () => {
    applyTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
  });
  $("error-dismiss").addEventListener("click", clearError);
}
