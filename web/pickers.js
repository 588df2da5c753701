// The model and voice pickers, filled from GET /api/voice-agent/options (nothing hard-coded).

import { store } from "./settings.js";
import { $, describe, showError } from "./ui.js";

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

export class Pickers {
  /** @param {{api: import("./api.js").ApiClient}} options */
  constructor({ api }) {
    this.api = api;
    this.options = null;
  }

  async load() {
    try {
      this.options = await this.api.options();
      fillSelect($("model-select"), this.options.models || [], store.get("va.model") || this.options.default_model);
      fillSelect($("voice-select"), this.options.voices || [], store.get("va.voice") || this.options.default_voice);
    } catch (err) {
      showError(`Could not load models and voices: ${describe(err)}`);
    }
  }

  get voices() {
    return (this.options && this.options.voices) || [];
  }

  get model() {
    return $("model-select").value;
  }

  get voice() {
    return $("voice-select").value;
  }

  /** Choose a voice the options offer (used from the next conversation). */
  setVoice(voice) {
    $("voice-select").value = voice;
    store.set("va.voice", voice);
  }

  /** Pickers are locked during a call: the session was minted with their values. */
  lock(locked) {
    $("model-select").disabled = locked;
    $("voice-select").disabled = locked;
  }

  bind() {
    $("model-select").addEventListener("change", (e) => store.set("va.model", e.target.value));
    $("voice-select").addEventListener("change", (e) => store.set("va.voice", e.target.value));
  }
}
