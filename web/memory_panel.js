// The memory panel: list (paged), search, delete, export, forget everything.
//
// The panel keeps its own count of what it shows, taken from the API's answers, so the page
// tools report results from the data and never by counting elements on the page.

import { $, countOf, describe, showError } from "./ui.js";

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

/** Opens the confirmation dialog with its own title, text and confirm button label. */
function openConfirm(title, text, action, onConfirm) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue === "ok") await onConfirm();
  };
  dialog.showModal();
}

export class MemoryPanel {
  /** @param {{api: import("./api.js").ApiClient, signedIn: () => boolean}} options */
  constructor({ api, signedIn }) {
    this.api = api;
    this.signedIn = signedIn;
    this.mode = "list"; // or "search"
    this.cursor = null;
    this.shown = 0; // memories in the list, as the API returned them
  }

  /** Load the first page (`reset`) or the next one; returns how many memories are shown. */
  async load({ reset }) {
    if (!this.signedIn()) return this.shown;
    if (reset) {
      this.mode = "list";
      this.cursor = null;
    }
    $("memory-status").textContent = "Loading…";
    try {
      const page = await this.api.listMemories({ limit: 20, cursor: reset ? null : this.cursor });
      const results = page.results || [];
      const items = results.map((memory) => this.item(memory));
      if (reset) $("memory-list").replaceChildren(...items);
      else $("memory-list").append(...items);
      this.shown = (reset ? 0 : this.shown) + results.length;
      this.cursor = page.next_cursor || null;
      $("memory-more").hidden = !this.cursor;
      $("memory-status").textContent = this.shown ? `${countOf(this.shown, "memory", "memories")} shown` : "No memories yet.";
    } catch (err) {
      $("memory-status").textContent = "";
      showError(`Could not load memories: ${describe(err)}`);
    }
    return this.shown;
  }

  /** Search; returns how many results are shown. */
  async search(query) {
    this.mode = "search";
    $("memory-status").textContent = "Searching…";
    try {
      const results = (await this.api.searchMemories(query, 20)).results || [];
      $("memory-list").replaceChildren(...results.map((memory) => this.item(memory)));
      this.shown = results.length;
      $("memory-more").hidden = true;
      $("memory-status").textContent = `${countOf(this.shown, "result", "results")} for “${query}”`;
    } catch (err) {
      $("memory-status").textContent = "";
      showError(`Memory search failed: ${describe(err)}`);
    }
    return this.shown;
  }

  /** Empty the list (sign-out). */
  clear() {
    $("memory-list").replaceChildren();
    this.shown = 0;
  }

  /** Bring the panel into view with the keyboard focus on its title. */
  reveal() {
    $("memory-panel").scrollIntoView({ behavior: "smooth", block: "start" });
    $("memory-title").setAttribute("tabindex", "-1");
    $("memory-title").focus();
  }

  /** Memory extraction runs in the background: show its result once the job is done. */
  async refreshAfterJob(jobId) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (!this.signedIn()) return;
      try {
        const job = await this.api.memoryJob(jobId);
        if (job.status === "failed") {
          $("memory-status").textContent = "Storing a memory failed.";
          return;
        }
        if (job.status === "done") break;
      } catch {
        break; // no job route or an error: refresh anyway
      }
    }
    if (this.mode === "list") this.load({ reset: true });
  }

  item(memory) {
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
    del.addEventListener("click", () => this.confirmDelete(memory, li));
    const body = document.createElement("div");
    body.append(text, meta);
    li.append(body, del);
    return li;
  }

  confirmDelete(memory, li) {
    openConfirm("Delete memory?", `“${memory.memory}” will be deleted for good, with its history.`, "Delete", async () => {
      try {
        await this.api.deleteMemory(memory.id);
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        this.shown = Math.max(0, this.shown - 1);
        $("memory-status").textContent = "Memory deleted.";
        const focusTarget = next && next.querySelector("button");
        (focusTarget || $("memory-query")).focus();
      } catch (err) {
        showError(`Could not delete the memory: ${describe(err)}`);
      }
    });
  }

  async exportAll() {
    if (!this.signedIn()) return;
    $("memory-status").textContent = "Exporting…";
    try {
      const document_ = await this.api.exportAllMemories();
      const blob = new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `memories-${new Date().toISOString().slice(0, 10)}.json`;
      link.click();
      URL.revokeObjectURL(link.href);
      $("memory-status").textContent = `Exported ${countOf(document_.total, "memory", "memories")}.`;
    } catch (err) {
      $("memory-status").textContent = "";
      showError(`Could not export the memories: ${describe(err)}`);
    }
  }

  async confirmForget() {
    if (!this.signedIn()) return;
    let total;
    try {
      total = (await this.api.exportMemories({ limit: 1 })).total;
    } catch (err) {
      showError(`Could not count the memories: ${describe(err)}`);
      return;
    }
    const what = total === 1 ? "Your 1 memory" : `All ${total} memories`;
    openConfirm("Forget everything?",
      `${what} will be deleted for good, with their history. This cannot be undone; export first to keep a copy.`,
      `Forget ${countOf(total, "memory", "memories")}`, async () => {
        try {
          await this.api.forgetAllMemories();
          this.clear();
          $("memory-more").hidden = true;
          $("memory-status").textContent = "Everything is forgotten.";
          $("memory-query").focus();
        } catch (err) {
          showError(`Could not forget the memories: ${describe(err)}`);
        }
      });
  }

  bind() {
    $("memory-search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const query = $("memory-query").value.trim();
      if (query) this.search(query);
      else this.load({ reset: true });
    });
    $("memory-refresh").addEventListener("click", () => {
      $("memory-query").value = "";
      this.load({ reset: true });
    });
    $("memory-more").addEventListener("click", () => this.load({ reset: false }));
    $("memory-export").addEventListener("click", () => this.exportAll());
    $("memory-forget").addEventListener("click", () => this.confirmForget());
  }
}
