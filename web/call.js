// The call: microphone, the voice session (mint → connect, rollover, reconnect), typed
// messages, the call controls and the key/session timers.

import { LevelMeter, openMicrophone } from "./audio.js";
import { Conversation } from "./conversation.js";
import { VoiceSession } from "./realtime.js";
import { settings } from "./settings.js";
import { mergeTools } from "./tools.js";
import { $, clearError, describe, setStatus, showError } from "./ui.js";

function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

export class Call {
  /**
   * @param {{api: import("./api.js").ApiClient, router: {execute: Function},
   *          pickers: import("./pickers.js").Pickers, pairing: import("./pairing.js").BridgePairing,
   *          transcript: object}} parts
   */
  constructor({ api, router, pickers, pairing, transcript }) {
    this.api = api;
    this.router = router;
    this.pickers = pickers;
    this.pairing = pairing;
    this.transcript = transcript;
    this.voice = null; // VoiceSession while a call runs
    this.conversation = null;
    this.mic = null;
    this.meter = null;
    this.session = null; // the last session object
    this.keyExpiresAt = null;
    this.ending = false;
  }

  get connected() {
    return Boolean(this.voice && this.voice.connected);
  }

  /** The session's own tools with the paired bridge's desktop tools under their exact names. */
  sessionTools() {
    const minted = (this.session && this.session.tools) || [];
    return mergeTools(minted, this.pairing.client ? this.pairing.tools : null);
  }

  /** session.update replaces the whole tool list, so it always carries all of it. */
  sendTools() {
    this.voice.send({ type: "session.update", session: { type: "realtime", tools: this.sessionTools() } });
  }

  controls(active) {
    $("connect").disabled = active;
    $("hangup").disabled = !active;
    this.pickers.lock(active);
    $("text-input").disabled = !active;
    $("text-send").disabled = !active;
  }

  onConnected({ carryOver }) {
    this.conversation.resetForNewSession();
    if (carryOver || this.pairing.client) this.sendTools();
    const summary = carryOver ? this.conversation.summary() : "";
    if (summary) {
      this.voice.send({
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

  stopMic() {
    if (this.meter) this.meter.stop();
    this.meter = null;
    if (this.mic) this.mic.getTracks().forEach((track) => track.stop());
    this.mic = null;
    $("mic-state").textContent = "off";
  }

  async openMic() {
    try {
      this.mic = await openMicrophone();
      this.meter = new LevelMeter(this.mic, (level) => { $("mic-meter").value = level; });
      $("mic-state").textContent = "on";
    } catch (err) {
      $("mic-state").textContent = `${err.message}; you can type instead`;
    }
  }

  async connect() {
    if (this.voice) return;
    clearError();
    this.ending = false;
    this.controls(true);
    setStatus("connecting", "opening the microphone");
    await this.openMic();
    const transport = settings.transport();
    $("transport-label").textContent = transport === "websocket" ? "WebSocket" : "WebRTC";
    const model = this.pickers.model;
    const voiceName = this.pickers.voice;
    const voice = new VoiceSession({
      mint: () => this.api.mintSession({ model, voice: voiceName }),
      transport,
      mic: this.mic,
      audioElement: $("remote-audio"),
      rolloverAfterMs: settings.rolloverMs(),
      backoffBaseMs: settings.backoffBaseMs(),
      onState: (name, detail) => setStatus(name, detail),
      onSession: (session) => {
        this.session = session;
        this.keyExpiresAt = (session.client_secret && session.client_secret.expires_at) || session.expires_at || null;
        this.tick();
      },
      onEvent: (event) => this.conversation && this.conversation.handle(event),
      onConnected: (info) => this.onConnected(info),
      onEnded: () => this.ended(),
    });
    this.voice = voice;
    this.conversation = new Conversation({
      send: (event) => voice.send(event),
      execute: (name, args) => this.router.execute(name, args),
      view: this.transcript,
      shouldContinue: () => !this.ending,
    });
    try {
      await voice.start();
    } catch (err) {
      voice.active = false;
      this.ended();
      setStatus("error", describe(err));
      showError(`Could not start the conversation: ${describe(err)}`);
    }
  }

  ended() {
    this.stopMic();
    this.voice = null;
    this.keyExpiresAt = null;
    this.controls(false);
    $("connect").textContent = "Start conversation";
    this.tick();
  }

  hangup(reason = "hung up") {
    if (this.voice) this.voice.hangup(reason);
    else this.ended();
    $("connect").focus();
  }

  /** The assistant said goodbye: let its output go out first, then hang up. */
  endByAssistant() {
    this.ending = true;
    setTimeout(() => this.hangup("ended by the assistant"), 300);
  }

  sendTyped(text) {
    if (!text || !this.connected) return false;
    this.conversation.addTypedUserTurn(text);
    this.voice.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    });
    this.voice.send({ type: "response.create" });
    return true;
  }

  tick() {
    const now = Date.now() / 1000;
    if (!this.voice || !this.keyExpiresAt) {
      $("key-countdown").textContent = "—";
    } else if (this.keyExpiresAt > now) {
      $("key-countdown").textContent = `expires in ${formatDuration(this.keyExpiresAt - now)}`;
    } else {
      // The key only opens connections; a connected session goes on after it expires.
      $("key-countdown").textContent = "expired (a new one is minted to reconnect)";
    }
    const connectedAt = this.connected ? this.voice.connectedAt : null;
    $("session-timer").textContent = connectedAt ?
      `${formatDuration(now - connectedAt / 1000)} (renews at ${formatDuration(settings.rolloverMs() / 1000)})` : "—";
  }

  bind() {
    $("connect").addEventListener("click", () => this.connect());
    $("hangup").addEventListener("click", () => this.hangup("hung up"));
    $("text-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.sendTyped($("text-input").value.trim())) $("text-input").value = "";
    });
    setInterval(() => this.tick(), 1000);
  }
}
