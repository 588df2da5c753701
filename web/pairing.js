// Pairing with the desktop bridge (`voice-agent bridge --serve`): its URL, token and tools.

import { BridgeClient, DEFAULT_BRIDGE_URL } from "./bridge.js";
import { store } from "./settings.js";
import { $ } from "./ui.js";

export class BridgePairing {
  /** @param {{onPaired: () => void}} options onPaired runs after a successful pairing. */
  constructor({ onPaired }) {
    this.onPaired = onPaired;
    this.client = null; // BridgeClient when paired
    this.tools = [];
  }

  status(text) {
    $("bridge-status").textContent = text;
    $("bridge-unpair").hidden = !this.client;
  }

  async pair() {
    const url = $("bridge-url").value.trim() || DEFAULT_BRIDGE_URL;
    const pairingToken = $("bridge-token").value.trim();
    if (!pairingToken) {
      this.status("Enter the pairing token the bridge printed.");
      return;
    }
    this.status("Pairing…");
    const client = new BridgeClient({ url, pairingToken });
    try {
      const tools = await client.listTools();
      this.client = client;
      this.tools = tools;
      store.set("va.bridgeUrl", url);
      store.setSession("va.bridgeToken", pairingToken);
      this.status(`Paired: ${tools.length} desktop tool${tools.length === 1 ? "" : "s"}`);
      this.onPaired();
    } catch (err) {
      this.client = null;
      this.tools = [];
      this.status(`Not paired: ${err.message}`);
    }
  }

  unpair() {
    this.client = null;
    this.tools = [];
    store.setSession("va.bridgeToken", null);
    $("bridge-token").value = "";
    this.status("Not paired");
  }

  /** Fill the form from storage, wire it, and pair again if this tab was paired. */
  bind() {
    $("bridge-url").value = store.get("va.bridgeUrl", DEFAULT_BRIDGE_URL);
    $("bridge-token").value = store.getSession("va.bridgeToken") || "";
    $("bridge-form").addEventListener("submit", (event) => { event.preventDefault(); this.pair(); });
    $("bridge-unpair").addEventListener("click", () => this.unpair());
  }

  resume() {
    if ($("bridge-token").value) this.pair();
  }
}
