// Routes the model's function calls by name.
//
// The tool list itself comes from the session object (`tools`, minted from the catalogue) and
// from the paired bridge; this module only knows where each kind of tool runs:
//   memory / search tools -> the HTTP API (with the user's JWT)
//   the three voice tools -> the page
//   every other name      -> the desktop bridge (or an error output when it is not paired)

/** API tools: name -> how to call the API with the model's arguments. */
const API_ROUTES = {
  search_memories: (api, args) => api.searchMemories(String(args.query ?? ""), args.limit, args.filters),
  // Marked as the assistant's, so the memory panel shows who wrote it (and it can be deleted).
  add_memories: (api, args) => api.addMemories(args.messages, { source: "assistant" }),
  get_all_memories: (api) => api.listMemories({ limit: 100 }),
  web_search: (api, args) => api.webSearch(String(args.query ?? "")),
};

/** Tools the page itself handles (the product's DEFAULT_VOICE_TOOLS). */
export const VOICE_TOOL_NAMES = ["changeBrowserTheme", "endConversation", "executeAppAction"];

export const BRIDGE_NOT_CONNECTED = JSON.stringify({ error: "desktop bridge not connected" });

/** Where a tool name runs: "api", "page" or "desktop". */
export function toolExecutor(name) {
  if (Object.hasOwn(API_ROUTES, name)) return "api";
  if (VOICE_TOOL_NAMES.includes(name)) return "page";
  return "desktop";
}

/**
 * The session's tool list with its desktop part replaced by what the paired bridge offers
 * (`bridgeTools` null: not paired, the minted list stays as it is).
 * Only flat GA fields are kept: the realtime API refuses unknown ones (e.g. `strict`).
 */
export function mergeTools(sessionTools, bridgeTools) {
  const clean = (tool) => ({
    type: "function",
    name: tool.name,
    description: tool.description || "",
    parameters: tool.parameters || { type: "object", properties: {} },
  });
  const tools = (sessionTools || []).filter(Boolean);
  if (!bridgeTools) return tools.map(clean); // not paired: keep what the session was minted with
  const own = tools.filter((tool) => toolExecutor(tool.name) !== "desktop");
  return [...own, ...bridgeTools].map(clean);
}

function errorOutput(message) {
  return JSON.stringify({ error: message });
}

export class ToolRouter {
  /**
   * @param {{api: import("./api.js").ApiClient,
   *          bridge: () => import("./bridge.js").BridgeClient | null,
   *          page: Record<string, (args: object) => Promise<object> | object>,
   *          onApiResult?: (name: string, result: object) => void}} options
   */
  constructor({ api, bridge, page, onApiResult = () => {} }) {
    this.api = api;
    this.bridge = bridge;
    this.page = page;
    this.onApiResult = onApiResult;
  }

  /** Run one call; always resolves to the string to send as `function_call_output.output`. */
  async execute(name, rawArguments) {
    let args;
    try {
      args = typeof rawArguments === "string" ? (rawArguments.trim() ? JSON.parse(rawArguments) : {}) : (rawArguments || {});
    } catch (err) {
      return errorOutput(`invalid JSON arguments for ${name}: ${err.message}`);
    }
    try {
      switch (toolExecutor(name)) {
        case "api": {
          const result = await API_ROUTES[name](this.api, args);
          this.onApiResult(name, result);
          return JSON.stringify(result ?? { status: "ok" });
        }
        case "page": {
          const result = await this.page[name](args);
          return typeof result === "string" ? result : JSON.stringify(result ?? { status: "ok" });
        }
        default: {
          const bridge = this.bridge();
          if (!bridge) return BRIDGE_NOT_CONNECTED;
          const { output, is_error: isError } = await bridge.call(name, args);
          return isError ? errorOutput(output) : output;
        }
      }
    } catch (err) {
      return errorOutput(err.message || String(err));
    }
  }
}
