// Realtime transports (WebRTC, WebSocket) and the connection lifecycle around them.
//
// Both transports deliver server events as parsed objects to the same `onEvent` and accept
// client events through `send`, so everything above them is transport-agnostic. VoiceSession
// mints a fresh ephemeral key right before every (re)connect — a key only matters for opening
// a connection — rolls the session over before the server's 60-minute limit and reconnects
// after an unexpected drop with exponential backoff, carrying the conversation over each time.

import { PcmStreamer } from "./audio.js";

const OPEN_TIMEOUT_MS = 15000;
// Used only when a session object has no `realtime` block (the original beta-era shape).
const OPENAI_REALTIME = "https://api.openai.com/v1/realtime";

/** Where to open WebRTC calls and WebSockets for this session object. */
export function realtimeEndpoints(session) {
  const realtime = session.realtime || {};
  const model = encodeURIComponent(session.model || "");
  return {
    callsUrl: realtime.calls_url || `${OPENAI_REALTIME}/calls`,
    websocketUrl: realtime.websocket_url || `${OPENAI_REALTIME.replace(/^http/, "ws")}?model=${model}`,
  };
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// --- WebRTC -----------------------------------------------------------------------------------

export class WebRTCTransport {
  /** @param {{session: object, key: string, mic: MediaStream | null, audioElement: HTMLAudioElement, onEvent: Function, onClose: Function}} o */
  constructor({ session, key, mic, audioElement, onEvent, onClose }) {
    this.callsUrl = realtimeEndpoints(session).callsUrl;
    this.key = key;
    this.mic = mic;
    this.audioElement = audioElement;
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.closed = false;
  }

  async open() {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.ontrack = (event) => { this.audioElement.srcObject = event.streams[0]; };
    if (this.mic) {
      for (const track of this.mic.getAudioTracks()) pc.addTrack(track, this.mic);
    } else {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    const channel = pc.createDataChannel("oai-events");
    this.channel = channel;
    channel.onmessage = (message) => this._receive(message.data);
    const opened = new Promise((resolve, reject) => {
      channel.onopen = resolve;
      channel.onerror = () => reject(new Error("The realtime data channel failed to open"));
    });
    await pc.setLocalDescription(await pc.createOffer());
    let response;
    try {
      response = await fetch(this.callsUrl, {
        method: "POST",
        body: pc.localDescription.sdp,
        headers: { Authorization: `Bearer ${this.key}`, "Content-Type": "application/sdp" },
      });
    } catch (err) {
      this._teardown();
      throw new Error(`Cannot reach the realtime service at ${this.callsUrl}: ${err.message}`);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      let detail = text.slice(0, 200);
      try { detail = JSON.parse(text).error.message || detail; } catch { /* plain text */ }
      this._teardown();
      throw new Error(`Realtime call setup failed: HTTP ${response.status}${detail ? ` — ${detail}` : ""}`);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    await withTimeout(opened, OPEN_TIMEOUT_MS, "The realtime data channel did not open in time");
    channel.onclose = () => this._lost("data channel closed");
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this._lost(`connection ${pc.connectionState}`);
    };
  }

  _receive(data) {
    let event;
    try { event = JSON.parse(data); } catch { return; }
    this.onEvent(event);
  }

  _lost(reason) {
    if (this.closed) return;
    this.closed = true;
    this._teardown();
    this.onClose({ reason });
  }

  send(event) {
    if (this.channel && this.channel.readyState === "open") this.channel.send(JSON.stringify(event));
  }

  _teardown() {
    try { if (this.channel) this.channel.close(); } catch { /* closed */ }
    try { if (this.pc) this.pc.close(); } catch { /* closed */ }
    if (this.audioElement) this.audioElement.srcObject = null;
  }

  close() {
    this.closed = true;
    this._teardown();
  }
}

// --- WebSocket ------------------------------------------------------------------------------

export class WebSocketTransport {
  /** @param {{session: object, key: string, mic: MediaStream | null, onEvent: Function, onClose: Function}} o */
  constructor({ session, key, mic, onEvent, onClose }) {
    this.url = realtimeEndpoints(session).websocketUrl;
    this.key = key;
    this.mic = mic;
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.closed = false;
    this.audio = null;
  }

  async open() {
    // Browsers cannot set an Authorization header on a WebSocket; the realtime API takes the
    // ephemeral key as a subprotocol instead.
    const ws = new WebSocket(this.url, ["realtime", `openai-insecure-api-key.${this.key}`]);
    this.ws = ws;
    await withTimeout(new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`WebSocket connection to ${this.url} failed`));
      ws.onclose = (event) => reject(new Error(`WebSocket closed during connect (code ${event.code})`));
    }), OPEN_TIMEOUT_MS, "The realtime WebSocket did not open in time").catch((err) => {
      this.closed = true;
      try { ws.close(); } catch { /* closed */ }
      throw err;
    });
    ws.onerror = null;
    ws.onmessage = (message) => this._receive(message.data);
    ws.onclose = (event) => {
      if (this.closed) return;
      this.closed = true;
      this._stopAudio();
      this.onClose({ reason: `socket closed (code ${event.code}${event.reason ? `, ${event.reason}` : ""})` });
    };
    // Playback is ready at once; capture starts in the background so that no server event
    // arrives while open() is still pending (the caller only routes events once it resolved).
    this.audio = new PcmStreamer();
    if (this.mic) {
      this.audio.startCapture(this.mic, (b64) => this.send({ type: "input_audio_buffer.append", audio: b64 }))
        .catch((err) => console.warn("microphone streaming unavailable", err));
    }
  }

  _receive(data) {
    let event;
    try { event = JSON.parse(data); } catch { return; }
    if (this.audio) {
      if (event.type === "response.output_audio.delta" && event.delta) this.audio.play(event.delta);
      else if (event.type === "input_audio_buffer.speech_started") this.audio.interrupt();
    }
    this.onEvent(event);
  }

  send(event) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(event));
  }

  _stopAudio() {
    if (this.audio) this.audio.close();
    this.audio = null;
  }

  close() {
    this.closed = true;
    this._stopAudio();
    try { if (this.ws) this.ws.close(1000, "client hang-up"); } catch { /* closed */ }
  }
}

// --- Lifecycle ------------------------------------------------------------------------------

/**
 * One conversation, possibly spanning several realtime sessions (rollover, reconnects).
 *
 * Callbacks: onState(state, detail), onSession(sessionObject), onEvent(event),
 * onConnected({carryOver, generation}), onEnded(reason).
 */
export class VoiceSession {
  constructor({
    mint, transport = "webrtc", mic = null, audioElement = null,
    rolloverAfterMs = 55 * 60 * 1000, backoffBaseMs = 1000, backoffMaxMs = 30000, maxReconnects = 6,
    onState = () => {}, onSession = () => {}, onEvent = () => {}, onConnected = () => {}, onEnded = () => {},
  }) {
    Object.assign(this, {
      mint, transportKind: transport, mic, audioElement, rolloverAfterMs, backoffBaseMs,
      backoffMaxMs, maxReconnects, onState, onSession, onEvent, onConnected, onEnded,
    });
    this.transport = null;
    this.generation = 0;
    this.active = false;
    this.rolloverTimer = null;
    this.retryTimer = null;
    this.connectedAt = null;
  }

  /** Mint, connect; rejects (with a readable message) if the first connect fails. */
  async start() {
    this.active = true;
    await this._connect({ carryOver: false, label: "connecting" });
  }

  send(event) {
    if (this.transport) this.transport.send(event);
  }

  get connected() {
    return Boolean(this.transport);
  }

  /** Close for good: no reconnect, no rollover. */
  hangup(reason = "hung up") {
    if (!this.active) return;
    this.active = false;
    this._clearTimers();
    this._dropTransport();
    this.onState("ended", reason);
    this.onEnded(reason);
  }

  async _connect({ carryOver, label }) {
    this._clearTimers();
    this.onState(label, "requesting a session key");
    const session = await this.mint();
    if (!this.active) return;
    this.onSession(session);
    const key = session.client_secret && session.client_secret.value;
    if (!key) throw new Error("The session object carries no client_secret.value");
    this.onState(label, `opening ${this.transportKind === "websocket" ? "WebSocket" : "WebRTC"} connection`);
    const generation = this.generation + 1;
    const Transport = this.transportKind === "websocket" ? WebSocketTransport : WebRTCTransport;
    const transport = new Transport({
      session, key, mic: this.mic, audioElement: this.audioElement,
      onEvent: (event) => { if (this.transport === transport) this.onEvent(event); },
      onClose: ({ reason }) => { if (this.transport === transport) this._onDrop(reason); },
    });
    await transport.open();
    if (!this.active) { transport.close(); return; }
    this.generation = generation;
    this.transport = transport;
    this.connectedAt = Date.now();
    this.reconnectAttempt = 0;
    this.rolloverTimer = setTimeout(() => this._rollover(), this.rolloverAfterMs);
    this.onState("connected", carryOver ? "conversation carried over" : "");
    this.onConnected({ carryOver, generation, session });
  }

  async _rollover() {
    if (!this.active) return;
    // Break before make: two live sessions would both hear the mic and both answer.
    this._dropTransport();
    try {
      await this._connect({ carryOver: true, label: "renewing" });
    } catch (err) {
      this._onDrop(`renewal failed: ${err.message}`);
    }
  }

  _onDrop(reason) {
    if (!this.active) return;
    this._dropTransport();
    this.reconnectAttempt = (this.reconnectAttempt || 0) + 1;
    if (this.reconnectAttempt > this.maxReconnects) {
      this.active = false;
      this._clearTimers();
      this.onState("error", `connection lost (${reason}); gave up after ${this.maxReconnects} attempts`);
      this.onEnded(reason);
      return;
    }
    const delay = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (this.reconnectAttempt - 1));
    this.onState("reconnecting", `connection lost (${reason}); retry ${this.reconnectAttempt} of ${this.maxReconnects} in ${Math.ceil(delay / 1000)} s`);
    this.retryTimer = setTimeout(async () => {
      try {
        await this._connect({ carryOver: true, label: "reconnecting" });
      } catch (err) {
        this._onDrop(err.message);
      }
    }, delay);
  }

  _dropTransport() {
    const transport = this.transport;
    this.transport = null;
    if (transport) transport.close();
  }

  _clearTimers() {
    clearTimeout(this.rolloverTimer);
    clearTimeout(this.retryTimer);
    this.rolloverTimer = null;
    this.retryTimer = null;
  }
}
