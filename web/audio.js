// Microphone, level meter and PCM playback.
//
// WebRTC carries audio itself (mic track out, remote track into an <audio> element); the
// WebSocket transport needs the page to encode the mic as 24 kHz PCM16 and to play the
// assistant's PCM16 deltas, which is what PcmStreamer does.

export const PCM_RATE = 24000;

/** Ask for the microphone; resolves to a MediaStream or throws an Error with a clear message. */
export async function openMicrophone() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("This browser gives no microphone access here (a secure origin — https or localhost — is required)");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (err) {
    const reason = err.name === "NotAllowedError" ? "permission denied" :
      err.name === "NotFoundError" ? "no microphone found" : err.message;
    throw new Error(`Microphone unavailable (${reason})`);
  }
}

/** Feeds a <meter> (0..1) with the RMS level of a stream until stopped. */
export class LevelMeter {
  constructor(stream, onLevel) {
    this.context = new AudioContext();
    const source = this.context.createMediaStreamSource(stream);
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 512;
    source.connect(this.analyser);
    this.samples = new Float32Array(this.analyser.fftSize);
    this.onLevel = onLevel;
    this.timer = setInterval(() => this._tick(), 60);
  }

  _tick() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const s of this.samples) sum += s * s;
    const rms = Math.sqrt(sum / this.samples.length);
    // Decibels read like a level meter: -60 dBFS and below is empty, 0 dBFS is full.
    const db = 20 * Math.log10(Math.max(rms, 1e-6));
    this.onLevel(Math.min(1, Math.max(0, (db + 60) / 60)));
  }

  stop() {
    clearInterval(this.timer);
    this.onLevel(0);
    this.context.close().catch(() => {});
  }
}

function bytesToBase64(bytes) {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

function base64ToInt16(b64) {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return new Int16Array(bytes.buffer, 0, Math.floor(bytes.length / 2));
}

/** PCM16 in and out for the WebSocket transport. */
export class PcmStreamer {
  constructor() {
    this.context = new AudioContext({ sampleRate: PCM_RATE });
    this.playhead = 0;
    this.sources = new Set();
    this.node = null;
  }

  /** Stream the mic as base64 PCM16 chunks to `onChunk`. */
  async startCapture(stream, onChunk) {
    await this.context.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
    const source = this.context.createMediaStreamSource(stream);
    this.node = new AudioWorkletNode(this.context, "pcm-capture");
    this.node.port.onmessage = (event) => onChunk(bytesToBase64(new Uint8Array(event.data)));
    source.connect(this.node);
  }

  /** Queue one base64 PCM16 delta for playback right after what is already queued. */
  play(b64) {
    const pcm = base64ToInt16(b64);
    if (!pcm.length) return;
    // Created after awaits, the context may start suspended; the earlier click allows resuming.
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    const buffer = this.context.createBuffer(1, pcm.length, PCM_RATE);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i += 1) data[i] = pcm[i] / 0x8000;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    this.playhead = Math.max(this.playhead, this.context.currentTime + 0.02);
    source.start(this.playhead);
    this.playhead += buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  /** Cut playback (the user started talking over the assistant). */
  interrupt() {
    for (const source of this.sources) {
      try { source.stop(); } catch { /* already stopped */ }
    }
    this.sources.clear();
    this.playhead = 0;
  }

  close() {
    this.interrupt();
    if (this.node) this.node.port.onmessage = null;
    this.context.close().catch(() => {});
  }
}
