// The voice tools the page runs itself: changeBrowserTheme, endConversation, executeAppAction.
//
// Every result is built from what the action did (the memory panel's own counts, the chosen
// theme), never read back from the page's elements.

import { $ } from "./ui.js";

/**
 * @param {{memories: import("./memory_panel.js").MemoryPanel,
 *          pickers: import("./pickers.js").Pickers,
 *          transcript: {clear: () => void},
 *          applyTheme: (theme: string) => void,
 *          endConversation: () => void}} parts
 * @returns {Record<string, (args: object) => Promise<object>>} handlers by tool name
 */
export function createPageTools({ memories, pickers, transcript, applyTheme, endConversation }) {
  const appActions = {
    open_memories: async () => {
      memories.reveal();
      return { status: "ok", shown: await memories.load({ reset: true }) };
    },
    search_memories: async (p) => {
      const query = String(p.query ?? "").trim();
      if (!query) return { error: "search_memories needs params.query" };
      $("memory-query").value = query;
      return { status: "ok", results: await memories.search(query) };
    },
    set_voice: async (p) => {
      const voices = pickers.voices;
      if (!voices.includes(p.voice)) return { error: `unknown voice '${p.voice}'`, known_voices: voices };
      pickers.setVoice(p.voice);
      return { status: "ok", note: "the new voice is used from the next conversation" };
    },
    open_settings: async () => {
      $("settings-details").open = true;
      $("settings").scrollIntoView({ behavior: "smooth", block: "start" });
      return { status: "ok" };
    },
    clear_transcript: async () => {
      transcript.clear();
      return { status: "ok" };
    },
  };

  return {
    changeBrowserTheme: async ({ theme }) => {
      if (theme !== "light" && theme !== "dark") return { error: "theme must be 'light' or 'dark'" };
      applyTheme(theme);
      return { status: "ok", theme };
    },
    endConversation: async () => {
      endConversation();
      return { status: "ok", message: "conversation ended" };
    },
    executeAppAction: async ({ intent, params: actionParams }) => {
      const action = appActions[intent];
      if (!action) return { error: `unknown intent '${intent}'`, known_intents: Object.keys(appActions) };
      let parsed = actionParams || {};
      if (typeof parsed === "string") {
        try { parsed = JSON.parse(parsed); } catch { return { error: "params must be an object" }; }
      }
      return action(parsed);
    },
  };
}
