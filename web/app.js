// Page wiring: sign-in, pickers, the call, the transcript, the memory panel, settings.

import { ApiClient, tokenSubject } from "./api.js";
import { LevelMeter, openMicrophone } from "./audio.js";
import { BridgeClient, DEFAULT_BRIDGE_URL } from "./bridge.js";
import { Conversation } from "./conversation.js";
import { VoiceSession } from "./realtime.js";
import { ToolRouter, mergeTools, toolExecutor } from "./tools.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(window.location.search);

// --- settings and storage -------------------------------------------------------------------

const store = {
  get: (key, fallback = "") => { try { return localStorage.getItem(key) ?? fallback; } catch { return fallback; } },
  set: (key, value) => { try { localStorage.setItem(key, value); } catch { /* private mode */ } },
  getSession: (key) => { try { return sessionStorage.getItem(key); } catch { return null; } },
  setSession: (key, value) => {
    try { if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key); } catch { /* private mode */ }
  },
};

const settings = {
  // Only what the user saved in Settings, never the URL: a crafted link must not send the
  // token to another host. Empty = the page's own origin.
  apiBase: () => store.get("va.apiBase"),
  transport: () => params.get("transport") || store.get("va.transport", "webrtc"),
  // ?rollover=<seconds> exists for tests and demos; the setting is in minutes.
  rolloverMs: () => (params.has("rollover") ? Number(params.get("rollover")) * 1000 :
    Math.min(59, Math.max(1, Number(store.get("va.rolloverMinutes", "55")) || 55)) * 60000),
  backoffBaseMs: () => Number(params.get("backoff")) || 1000,
};

// --- state ----------------------------------------------------------------------------------

const state = {
  token: store.getSession("va.token"),
  options: null,
  voice: null, // VoiceSession
  conversation: null,
  mic: null,
  meter: null,
  session: null, // last session object
  keyExpiresAt: null,
  ending: false,
  bridge: null, // BridgeClient when paired
  bridgeTools: [],
  memories: { mode: "list", cursor: null, query: "" },
};

const api = new ApiClient({ baseUrl: settings.apiBase, token: () => state.token });

// --- errors and status ----------------------------------------------------------------------

function showError(message) {
  $("error-text").textContent = message;
  $("error-banner").hidden = false;
}

function clearError() {
  $("error-banner").hidden = true;
  $("error-text").textContent = "";
}

function describe(err) {
  const message = err && err.message ? err.message : String(err);
  return err && err.status === 401 ? `${message} — sign out and sign in again.` : message;
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

function setStatus(name, detail = "") {
  $("status").dataset.state = name;
  const label = STATE_LABELS[name] || name;
  $("status-text").textContent = detail ? `${label} — ${detail}` : label;
}

// --- theme ----------------------------------------------------------------------------------

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  store.set("va.theme", theme);
  const dark = theme === "dark";
  $("theme-toggle").setAttribute("aria-pressed", String(dark));
  $("theme-toggle").textContent = dark ? "Light theme" : "Dark theme";
}

$("theme-toggle").addEventListener("click", () => {
  applyTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
});

// --- sign-in --------------------------------------------------------------------------------

function showSignedIn() {
  const signedIn = Boolean(state.token);
  $("signin-view").hidden = signedIn;
  $("app-view").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("user-badge").hidden = !signedIn;
  $("user-badge").textContent = signedIn ? `Signed in as ${tokenSubject(state.token) || "unknown user"}` : "";
  if (signedIn) {
    loadOptions();
    loadMemories({ reset: true });
  } else {
    probeDevSignIn();
  }
}

async function probeDevSignIn() {
  $("dev-signin-form").hidden = !(await api.hasDevSignIn());
}

function signIn(token) {
  state.token = token.trim();
  store.setSession("va.token", state.token);
  clearError();
  showSignedIn();
  $("main").focus();
}

$("dev-signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = $("dev-signin");
  button.disabled = true;
  try {
    signIn(await api.devToken($("dev-user").value.trim()));
  } catch (err) {
    showError(`Dev sign-in failed: ${describe(err)}`);
  } finally {
    button.disabled = false;
  }
});

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (token.split(".").length !== 3) {
    showError("That does not look like a JWT (three dot-separated parts expected).");
    return;
  }
  $("token-input").value = "";
  signIn(token);
});

$("sign-out").addEventListener("click", () => {
  if (state.voice) state.voice.hangup("signed out");
  state.token = null;
  store.setSession("va.token", null);
  $("memory-list").replaceChildren();
  clearTranscript();
  showSignedIn();
});

// --- pickers --------------------------------------------------------------------------------

function fillSelect(select, values, preferred) {
  const current = select.value || preferred;
  select.replaceChildren(...values.map((value) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = value;
    return option;
  }));
  if (values.includes(current)) select.value = current;
}

async function loadOptions() {
  try {
    state.options = await api.options();
    fillSelect($("model-select"), state.options.models || [], store.get("va.model") || state.options.default_model);
    fillSelect($("voice-select"), state.options.voices || [], store.get("va.voice") || state.options.default_voice);
  } catch (err) {
    showError(`Could not load models and voices: ${describe(err)}`);
  }
}

$("model-select").addEventListener("change", (e) => store.set("va.model", e.target.value));
$("voice-select").addEventListener("change", (e) => store.set("va.voice", e.target.value));

// --- transcript -----------------------------------------------------------------------------

function clearTranscript() {
  const empty = document.createElement("p");
  empty.className = "empty hint";
  empty.textContent = "The transcript of both sides appears here.";
  $("transcript").replaceChildren(empty);
}

function transcriptEntry(key, className) {
  const log = $("transcript");
  let entry = log.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!entry) {
    const empty = log.querySelector(".empty");
    if (empty) empty.remove();
    entry = document.createElement("div");
    entry.dataset.key = key;
    entry.className = className;
    log.append(entry);
  }
  return entry;
}

const view = {
  upsertTurn(turn) {
    const entry = transcriptEntry(turn.id, `turn ${turn.role}`);
    entry.dataset.final = String(turn.final);
    // Screen readers wait for a streaming turn to finish instead of reading every delta.
    entry.setAttribute("aria-busy", String(!turn.final));
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = turn.role === "user" ? "You" : "Assistant";
    const text = document.createElement("p");
    text.textContent = turn.text || "…";
    entry.replaceChildren(who, text);
    $("transcript").scrollTop = $("transcript").scrollHeight;
  },
  toolActivity({ callId, name, state: callState, output }) {
    const entry = transcriptEntry(`tool-${callId}`, "tool");
    entry.dataset.state = callState;
    entry.dataset.tool = name;
    const where = { api: "API", page: "page", desktop: "desktop" }[toolExecutor(name)];
    const label = { running: "running…", done: "done", error: "failed" }[callState];
    let text = `Tool ${name} (${where}): ${label}`;
    if (callState === "error") {
      try { text += ` — ${JSON.parse(output).error}`; } catch { /* keep the short form */ }
    }
    entry.textContent = text;
    $("transcript").scrollTop = $("transcript").scrollHeight;
  },
  serverError(message) {
    showError(`Realtime error: ${message}`);
  },
};

// --- voice tools (handled by the page) ------------------------------------------------------

const APP_ACTIONS = {
  open_memories: async () => {
    $("memory-panel").scrollIntoView({ behavior: "smooth", block: "start" });
    $("memory-title").setAttribute("tabindex", "-1");
    $("memory-title").focus();
    await loadMemories({ reset: true });
    return { status: "ok", shown: $("memory-list").children.length };
  },
  search_memories: async (p) => {
    const query = String(p.query ?? "").trim();
    if (!query) return { error: "search_memories needs params.query" };
    $("memory-query").value = query;
    await searchMemories(query);
    return { status: "ok", results: $("memory-list").children.length };
  },
  set_voice: async (p) => {
    const voices = (state.options && state.options.voices) || [];
    if (!voices.includes(p.voice)) return { error: `unknown voice '${p.voice}'`, known_voices: voices };
    $("voice-select").value = p.voice;
    store.set("va.voice", p.voice);
    return { status: "ok", note: "the new voice is used from the next conversation" };
  },
  open_settings: async () => {
    $("settings-details").open = true;
    $("settings").scrollIntoView({ behavior: "smooth", block: "start" });
    return { status: "ok" };
  },
  clear_transcript: async () => {
    clearTranscript();
    return { status: "ok" };
  },
};

const pageTools = {
  changeBrowserTheme: async ({ theme }) => {
    if (theme !== "light" && theme !== "dark") return { error: "theme must be 'light' or 'dark'" };
    applyTheme(theme);
    return { status: "ok", theme };
  },
  endConversation: async () => {
    state.ending = true;
    // Let the output go out first, then hang up.
    setTimeout(() => hangup("ended by the assistant"), 300);
    return { status: "ok", message: "conversation ended" };
  },
  executeAppAction: async ({ intent, params: actionParams }) => {
    const action = APP_ACTIONS[intent];
    if (!action) return { error: `unknown intent '${intent}'`, known_intents: Object.keys(APP_ACTIONS) };
    let parsed = actionParams || {};
    if (typeof parsed === "string") {
      try { parsed = JSON.parse(parsed); } catch { return { error: "params must be an object" }; }
    }
    return action(parsed);
  },
};

const router = new ToolRouter({
  api,
  bridge: () => state.bridge,
  page: pageTools,
  onApiResult: (name, result) => {
    if (name === "add_memories" && result && result.job_id) refreshAfterJob(result.job_id);
  },
});

/** Memory extraction runs in the background: show its result in the panel once it is done. */
async function refreshAfterJob(jobId) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (!state.token) return;
    try {
      const job = await api.memoryJob(jobId);
      if (job.status === "failed") {
        $("memory-status").textContent = "Storing a memory failed.";
        return;
      }
      if (job.status === "done") break;
    } catch {
      break; // no job route or an error: refresh anyway
    }
  }
  if (state.memories.mode === "list") loadMemories({ reset: true });
}

// --- the call -------------------------------------------------------------------------------

function setCallControls(active) {
  $("connect").disabled = active;
  $("hangup").disabled = !active;
  $("model-select").disabled = active;
  $("voice-select").disabled = active;
  $("text-input").disabled = !active;
  $("text-send").disabled = !active;
}

function sessionTools() {
  return mergeTools((state.session && state.session.tools) || [], state.bridge ? state.bridgeTools : null);
}

function onConnected({ carryOver }) {
  const conversation = state.conversation;
  conversation.resetForNewSession();
  if (carryOver || state.bridge) {
    // session.update replaces the whole tool list: send the session's own tools with the
    // bridge's desktop tools under their exact names.
    state.voice.send({ type: "session.update", session: { type: "realtime", tools: sessionTools() } });
  }
  const summary = carryOver ? conversation.summary() : "";
  if (summary) {
    state.voice.send({
      type: "conversation.item.create",
      item: {
        type: "message",
        role: "system",
        content: [{ type: "input_text", text: `The conversation continues from an earlier session. Recent turns:\n${summary}` }],
      },
    });
  }
  $("text-input").disabled = false;
  $("text-send").disabled = false;
}

function stopMic() {
  if (state.meter) state.meter.stop();
  state.meter = null;
  if (state.mic) state.mic.getTracks().forEach((track) => track.stop());
  state.mic = null;
  $("mic-state").textContent = "off";
}

async function connect() {
  if (state.voice) return;
  clearError();
  state.ending = false;
  setCallControls(true);
  setStatus("connecting", "opening the microphone");
  try {
    state.mic = await openMicrophone();
    state.meter = new LevelMeter(state.mic, (level) => { $("mic-meter").value = level; });
    $("mic-state").textContent = "on";
  } catch (err) {
    $("mic-state").textContent = `${err.message}; you can type instead`;
  }
  const transport = settings.transport();
  $("transport-label").textContent = transport === "websocket" ? "WebSocket" : "WebRTC";
  const model = $("model-select").value;
  const voiceName = $("voice-select").value;
  const voice = new VoiceSession({
    mint: () => api.mintSession({ model, voice: voiceName }),
    transport,
    mic: state.mic,
    audioElement: $("remote-audio"),
    rolloverAfterMs: settings.rolloverMs(),
    backoffBaseMs: settings.backoffBaseMs(),
    onState: (name, detail) => setStatus(name, detail),
    onSession: (session) => {
      state.session = session;
      state.keyExpiresAt = (session.client_secret && session.client_secret.expires_at) || session.expires_at || null;
      tick();
    },
    onEvent: (event) => state.conversation && state.conversation.handle(event),
    onConnected,
    onEnded: () => endCall(),
  });
  state.voice = voice;
  state.conversation = new Conversation({
    send: (event) => voice.send(event),
    execute: (name, args) => router.execute(name, args),
    view,
    shouldContinue: () => !state.ending,
  });
  try {
    await voice.start();
  } catch (err) {
    voice.active = false;
    endCall();
    setStatus("error", describe(err));
    showError(`Could not start the conversation: ${describe(err)}`);
  }
}

function endCall() {
  stopMic();
  state.voice = null;
  state.keyExpiresAt = null;
  setCallControls(false);
  $("connect").textContent = "Start conversation";
  tick();
}

function hangup(reason = "hung up") {
  if (state.voice) state.voice.hangup(reason);
  else endCall();
  $("connect").focus();
}

$("connect").addEventListener("click", connect);
$("hangup").addEventListener("click", () => hangup("hung up"));

$("text-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text-input").value.trim();
  if (!text || !state.voice || !state.voice.connected) return;
  state.conversation.addTypedUserTurn(text);
  state.voice.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  });
  state.voice.send({ type: "response.create" });
  $("text-input").value = "";
});

function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

function tick() {
  const now = Date.now() / 1000;
  if (!state.voice || !state.keyExpiresAt) {
    $("key-countdown").textContent = "—";
  } else if (state.keyExpiresAt > now) {
    $("key-countdown").textContent = `expires in ${formatDuration(state.keyExpiresAt - now)}`;
  } else {
    // The key only opens connections; a connected session goes on after it expires.
    $("key-countdown").textContent = "expired (a new one is minted to reconnect)";
  }
  const connectedAt = state.voice && state.voice.connected ? state.voice.connectedAt : null;
  $("session-timer").textContent = connectedAt ?
    `${formatDuration(now - connectedAt / 1000)} (renews at ${formatDuration(settings.rolloverMs() / 1000)})` : "—";
}
setInterval(tick, 1000);

// --- memories -------------------------------------------------------------------------------

function formatDate(value) {
  if (!value) return "";
  const date = new Date(typeof value === "number" ? value * 1000 : value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** Who wrote a memory (metadata.source), so what the assistant stored can be reviewed. */
function sourceLabel(metadata) {
  const source = metadata && typeof metadata.source === "string" ? metadata.source : "";
  const labels = { assistant: "added by the assistant", user: "added by you", import: "imported" };
  return labels[source] || (source ? `source: ${source}` : "");
}

function memoryItem(memory) {
  const li = document.createElement("li");
  li.className = "memory";
  li.dataset.id = memory.id;
  const text = document.createElement("p");
  text.className = "memory-text";
  text.textContent = memory.memory;
  const meta = document.createElement("p");
  meta.className = "memory-meta hint";
  const parts = [sourceLabel(memory.metadata), formatDate(memory.updated_at || memory.created_at)];
  if (typeof memory.score === "number") parts.push(`score ${memory.score.toFixed(2)}`);
  meta.textContent = parts.filter(Boolean).join(" · ");
  const del = document.createElement("button");
  del.type = "button";
  del.className = "ghost danger-text";
  del.textContent = "Delete";
  del.setAttribute("aria-label", `Delete memory: ${memory.memory}`);
  del.addEventListener("click", () => confirmDelete(memory, li));
  const body = document.createElement("div");
  body.append(text, meta);
  li.append(body, del);
  return li;
}

async function loadMemories({ reset }) {
  if (!state.token) return;
  const m = state.memories;
  if (reset) {
    m.mode = "list";
    m.cursor = null;
  }
  $("memory-status").textContent = "Loading…";
  try {
    const page = await api.listMemories({ limit: 20, cursor: reset ? null : m.cursor });
    const items = (page.results || []).map(memoryItem);
    if (reset) $("memory-list").replaceChildren(...items);
    else $("memory-list").append(...items);
    m.cursor = page.next_cursor || null;
    $("memory-more").hidden = !m.cursor;
    const count = $("memory-list").children.length;
    $("memory-status").textContent = count ? `${count} memor${count === 1 ? "y" : "ies"} shown` : "No memories yet.";
  } catch (err) {
    $("memory-status").textContent = "";
    showError(`Could not load memories: ${describe(err)}`);
  }
}

async function searchMemories(query) {
  state.memories.mode = "search";
  state.memories.query = query;
  $("memory-status").textContent = "Searching…";
  try {
    const body = await api.searchMemories(query, 20);
    $("memory-list").replaceChildren(...(body.results || []).map(memoryItem));
    $("memory-more").hidden = true;
    const count = $("memory-list").children.length;
    $("memory-status").textContent = `${count} result${count === 1 ? "" : "s"} for “${query}”`;
  } catch (err) {
    $("memory-status").textContent = "";
    showError(`Memory search failed: ${describe(err)}`);
  }
}

/** Opens the confirmation dialog with its own title, text and confirm button label. */
function openConfirm(title, text, action) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
}

function confirmDelete(memory, li) {
  const dialog = $("confirm-dialog");
  openConfirm("Delete memory?", `“${memory.memory}” will be deleted for good, with its history.`, "Delete");
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    try {
      await api.deleteMemory(memory.id);
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      $("memory-status").textContent = "Memory deleted.";
      const focusTarget = next && next.querySelector("button");
      (focusTarget || $("memory-query")).focus();
    } catch (err) {
      showError(`Could not delete the memory: ${describe(err)}`);
    }
  };
  dialog.showModal();
}

$("memory-search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("memory-query").value.trim();
  if (query) searchMemories(query);
  else loadMemories({ reset: true });
});
$("memory-refresh").addEventListener("click", () => {
  $("memory-query").value = "";
  loadMemories({ reset: true });
});
$("memory-more").addEventListener("click", () => loadMemories({ reset: false }));

async function exportMemories() {
  if (!state.token) return;
  $("memory-status").textContent = "Exporting…";
  try {
    const document_ = await api.exportAllMemories();
    const blob = new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `memories-${new Date().toISOString().slice(0, 10)}.json`;
    link.click();
    URL.revokeObjectURL(link.href);
    const n = document_.total;
    $("memory-status").textContent = `Exported ${n} memor${n === 1 ? "y" : "ies"}.`;
  } catch (err) {
    $("memory-status").textContent = "";
    showError(`Could not export the memories: ${describe(err)}`);
  }
}

async function confirmForget() {
  if (!state.token) return;
  let total;
  try {
    total = (await api.exportMemories({ limit: 1 })).total;
  } catch (err) {
    showError(`Could not count the memories: ${describe(err)}`);
    return;
  }
  const dialog = $("confirm-dialog");
  const what = total === 1 ? "Your 1 memory" : `All ${total} memories`;
  openConfirm("Forget everything?",
    `${what} will be deleted for good, with their history. This cannot be undone; export first to keep a copy.`,
    `Forget ${total} memor${total === 1 ? "y" : "ies"}`);
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    try {
      await api.forgetAllMemories();
      $("memory-list").replaceChildren();
      $("memory-more").hidden = true;
      $("memory-status").textContent = "Everything is forgotten.";
      $("memory-query").focus();
    } catch (err) {
      showError(`Could not forget the memories: ${describe(err)}`);
    }
  };
  dialog.showModal();
}

$("memory-export").addEventListener("click", exportMemories);
$("memory-forget").addEventListener("click", confirmForget);

// --- settings -------------------------------------------------------------------------------

function showApiInUse() {
  const base = settings.apiBase().trim();
  $("api-in-use").textContent = base ?
    `API: ${base} (set in Settings)` : `API: this page's server (${window.location.origin})`;
}

$("api-base").value = store.get("va.apiBase");
showApiInUse();
$("api-form").addEventListener("submit", (event) => {
  event.preventDefault();
  store.set("va.apiBase", $("api-base").value.trim());
  showApiInUse();
  clearError();
  showSignedIn();
});

$("transport-select").value = settings.transport();
$("transport-select").addEventListener("change", (e) => store.set("va.transport", e.target.value));
$("rollover-minutes").value = String(Math.round(settings.rolloverMs() / 60000) || 1);
$("rollover-minutes").addEventListener("change", (e) => store.set("va.rolloverMinutes", e.target.value));

$("bridge-url").value = store.get("va.bridgeUrl", DEFAULT_BRIDGE_URL);
$("bridge-token").value = store.getSession("va.bridgeToken") || "";

function setBridgeStatus(text) {
  $("bridge-status").textContent = text;
  $("bridge-unpair").hidden = !state.bridge;
}

async function pairBridge() {
  const url = $("bridge-url").value.trim() || DEFAULT_BRIDGE_URL;
  const pairingToken = $("bridge-token").value.trim();
  if (!pairingToken) {
    setBridgeStatus("Enter the pairing token the bridge printed.");
    return;
  }
  setBridgeStatus("Pairing…");
  const client = new BridgeClient({ url, pairingToken });
  try {
    const tools = await client.listTools();
    state.bridge = client;
    state.bridgeTools = tools;
    store.set("va.bridgeUrl", url);
    store.setSession("va.bridgeToken", pairingToken);
    setBridgeStatus(`Paired: ${tools.length} desktop tool${tools.length === 1 ? "" : "s"}`);
    if (state.voice && state.voice.connected) {
      state.voice.send({ type: "session.update", session: { type: "realtime", tools: sessionTools() } });
    }
  } catch (err) {
    state.bridge = null;
    state.bridgeTools = [];
    setBridgeStatus(`Not paired: ${err.message}`);
  }
}

$("bridge-form").addEventListener("submit", (event) => { event.preventDefault(); pairBridge(); });
$("bridge-unpair").addEventListener("click", () => {
  state.bridge = null;
  state.bridgeTools = [];
  store.setSession("va.bridgeToken", null);
  $("bridge-token").value = "";
  setBridgeStatus("Not paired");
});

$("error-dismiss").addEventListener("click", clearError);

// --- start ----------------------------------------------------------------------------------

applyTheme(document.documentElement.dataset.theme || "light");
setStatus("idle");
if ($("bridge-token").value) pairBridge();
showSignedIn();
document.body.dataset.ready = "true";
