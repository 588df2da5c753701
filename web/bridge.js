// Client of the desktop bridge's local endpoint (`voice-agent bridge --serve`).
//
// The bridge binds 127.0.0.1 only, checks the page's Origin and wants the pairing token it
// printed in the header X-Pairing-Token on every request.

export const DEFAULT_BRIDGE_URL = "http://127.0.0.1:8765";

/** Turn whatever the bridge lists into flat GA function tools (name, description, parameters). */
export function toFunctionTool(tool) {
  const parameters = tool.parameters || tool.inputSchema || tool.input_schema ||
    { type: "object", properties: {} };
  return {
    type: "function",
    name: tool.name,
    description: tool.description || "",
    parameters,
  };
}

export class BridgeClient {
  /** @param {{url: string, pairingToken: string, fetchImpl?: typeof fetch}} options */
  constructor({ url, pairingToken, fetchImpl }) {
    this.url = (url || DEFAULT_BRIDGE_URL).trim().replace(/\/+$/, "");
    this.pairingToken = pairingToken;
    this.fetch = fetchImpl || window.fetch.bind(window);
  }

  async _request(method, path, body) {
    const headers = { "X-Pairing-Token": this.pairingToken };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await this.fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new Error(`Cannot reach the desktop bridge at ${this.url} (is \`voice-agent bridge --serve\` running, and is this page's origin allowed?): ${err.message}`);
    }
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!response.ok) {
      const detail = (json && (json.error || json.detail)) || text.slice(0, 200);
      const hint = response.status === 401 || response.status === 403 ? " (check the pairing token)" : "";
      throw new Error(`Desktop bridge answered HTTP ${response.status}${detail ? `: ${detail}` : ""}${hint}`);
    }
    return json;
  }

  /** The desktop tools the bridge's MCP server offers, as GA function tools. */
  async listTools() {
    const body = await this._request("GET", "/tools");
    const list = Array.isArray(body) ? body : (body && Array.isArray(body.tools) ? body.tools : []);
    return list.filter((tool) => tool && typeof tool.name === "string").map(toFunctionTool);
  }

  /** Run one desktop tool; resolves to {output: string, is_error: boolean}. */
  async call(name, args) {
    const body = await this._request("POST", "/tools/call", { name, arguments: args });
    const output = body && typeof body.output === "string" ? body.output : JSON.stringify(body && body.output);
    return { output, is_error: Boolean(body && body.is_error) };
  }
}
