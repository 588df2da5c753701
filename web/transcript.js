// The transcript: both sides' turns as they stream, and one line per tool call.

import { toolExecutor } from "./tools.js";
import { $, showError } from "./ui.js";

function entry(key, className) {
  const log = $("transcript");
  let found = log.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!found) {
    const empty = log.querySelector(".empty");
    if (empty) empty.remove();
    found = document.createElement("div");
    found.dataset.key = key;
    found.className = className;
    log.append(found);
  }
  return found;
}

function scrollToEnd() {
  $("transcript").scrollTop = $("transcript").scrollHeight;
}

/** The view `Conversation` (conversation.js) draws on. */
export const transcript = {
  clear() {
    const empty = document.createElement("p");
    empty.className = "empty hint";
    empty.textContent = "The transcript of both sides appears here.";
    $("transcript").replaceChildren(empty);
  },
  upsertTurn(turn) {
    const found = entry(turn.id, `turn ${turn.role}`);
    found.dataset.final = String(turn.final);
    // Screen readers wait for a streaming turn to finish instead of reading every delta.
    found.setAttribute("aria-busy", String(!turn.final));
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = turn.role === "user" ? "You" : "Assistant";
    const text = document.createElement("p");
    text.textContent = turn.text || "…";
    found.replaceChildren(who, text);
    scrollToEnd();
  },
  toolActivity({ callId, name, state, output }) {
    const found = entry(`tool-${callId}`, "tool");
    found.dataset.state = state;
    found.dataset.tool = name;
    const where = { api: "API", page: "page", desktop: "desktop" }[toolExecutor(name)];
    const label = { running: "running…", done: "done", error: "failed" }[state];
    let text = `Tool ${name} (${where}): ${label}`;
    if (state === "error") {
      try { text += ` — ${JSON.parse(output).error}`; } catch { /* keep the short form */ }
    }
    found.textContent = text;
    scrollToEnd();
  },
  serverError(message) {
    showError(`Realtime error: ${message}`);
  },
};
