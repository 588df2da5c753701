// Server-event handling: transcript of both sides and the tool-call protocol.
//
// Tool calls may be announced twice (response.function_call_arguments.done and
// response.output_item.done) and several may come in one response. Each call_id is executed
// once and answered with exactly one function_call_output; when the response is done and all
// its calls are answered, exactly one response.create lets the model continue.

const SUMMARY_TURNS = 20;
const SUMMARY_CHARS = 6000;

export class Conversation {
  /**
   * @param {{send: (event: object) => void, execute: (name: string, args: string) => Promise<string>,
   *          view: {upsertTurn: Function, toolActivity: Function, serverError: Function},
   *          shouldContinue?: () => boolean}} options
   */
  constructor({ send, execute, view, shouldContinue = () => true }) {
    this.send = send;
    this.execute = execute;
    this.view = view;
    this.shouldContinue = shouldContinue;
    this.turns = []; // {id, role, text, final}
    this._resetCalls();
  }

  /** A new realtime session started: calls of the old one can no longer be answered. */
  resetForNewSession() {
    this._resetCalls();
  }

  _resetCalls() {
    this.generation = (this.generation || 0) + 1;
    this.calls = new Map(); // call_id -> {responseId, promise, answered}
    this.responses = new Map(); // response_id -> {done, callIds:Set, continued}
  }

  handle(event) {
    const handler = this[`_on_${(event.type || "").replace(/\./g, "_")}`];
    if (handler) handler.call(this, event);
  }

  // --- transcript ---------------------------------------------------------------------------

  _turn(id, role) {
    let turn = this.turns.find((t) => t.id === id);
    if (!turn) {
      turn = { id, role, text: "", final: false };
      this.turns.push(turn);
    }
    return turn;
  }

  _update(turn) {
    this.view.upsertTurn(turn);
  }

  /** A user turn typed in the page (rendered at once, the server echo is not shown again). */
  addTypedUserTurn(text) {
    const turn = this._turn(`typed-${Date.now()}-${Math.random().toString(36).slice(2)}`, "user");
    turn.text = text;
    turn.final = true;
    this._update(turn);
  }

  _on_conversation_item_added(event) {
    const item = event.item || {};
    const hasAudio = (item.content || []).some((part) => part.type === "input_audio");
    if (item.type === "message" && item.role === "user" && hasAudio && item.id) {
      this._update(this._turn(item.id, "user")); // placeholder keeps the order of turns
    }
  }

  _on_conversation_item_input_audio_transcription_delta(event) {
    const turn = this._turn(event.item_id, "user");
    turn.text += event.delta || "";
    this._update(turn);
  }

  _on_conversation_item_input_audio_transcription_completed(event) {
    const turn = this._turn(event.item_id, "user");
    turn.text = (event.transcript || "").trim();
    turn.final = true;
    this._update(turn);
  }

  _assistantDelta(event) {
    const turn = this._turn(event.item_id || event.response_id, "assistant");
    turn.text += event.delta || "";
    this._update(turn);
  }

  _assistantDone(event, field) {
    const turn = this._turn(event.item_id || event.response_id, "assistant");
    if (typeof event[field] === "string") turn.text = event[field];
    turn.final = true;
    this._update(turn);
  }

  _on_response_output_audio_transcript_delta(event) { this._assistantDelta(event); }
  _on_response_output_audio_transcript_done(event) { this._assistantDone(event, "transcript"); }
  _on_response_output_text_delta(event) { this._assistantDelta(event); }
  _on_response_output_text_done(event) { this._assistantDone(event, "text"); }

  _on_error(event) {
    const error = event.error || {};
    this.view.serverError(error.message || JSON.stringify(error));
  }

  /** Recent turns as plain text, to carry the conversation into a new session. */
  summary() {
    const lines = this.turns
      .filter((t) => t.text && t.text.trim())
      .slice(-SUMMARY_TURNS)
      .map((t) => `${t.role === "user" ? "User" : "Assistant"}: ${t.text.trim()}`);
    let text = lines.join("\n");
    if (text.length > SUMMARY_CHARS) text = `…${text.slice(-SUMMARY_CHARS)}`;
    return text;
  }

  // --- tool calls ---------------------------------------------------------------------------

  _on_response_function_call_arguments_done(event) {
    this._startCall({ call_id: event.call_id, name: event.name, arguments: event.arguments }, event.response_id);
  }

  _on_response_output_item_done(event) {
    const item = event.item || {};
    if (item.type === "function_call") this._startCall(item, event.response_id);
  }

  _on_response_done(event) {
    const response = event.response || {};
    const id = response.id || "unknown";
    // The finished response lists its items: start any call not announced separately.
    for (const item of response.output || []) {
      if (item && item.type === "function_call") this._startCall(item, id);
    }
    this._response(id).done = true;
    this._maybeContinue(id);
  }

  _response(id) {
    let response = this.responses.get(id);
    if (!response) {
      response = { done: false, callIds: new Set(), continued: false };
      this.responses.set(id, response);
    }
    return response;
  }

  _startCall(item, responseId) {
    const callId = item.call_id;
    if (!callId || this.calls.has(callId)) return;
    const id = responseId || "unknown";
    const call = { responseId: id, answered: false, name: item.name };
    this.calls.set(callId, call);
    this._response(id).callIds.add(callId);
    const generation = this.generation;
    this.view.toolActivity({ callId, name: item.name, state: "running" });
    call.promise = this.execute(item.name, item.arguments ?? "{}").then((output) => {
      if (generation !== this.generation) return; // session replaced meanwhile
      this.send({
        type: "conversation.item.create",
        item: { type: "function_call_output", call_id: callId, output: String(output) },
      });
      call.answered = true;
      let failed = false;
      try { failed = Boolean(JSON.parse(output).error); } catch { /* plain text output */ }
      this.view.toolActivity({ callId, name: item.name, state: failed ? "error" : "done", output });
      this._maybeContinue(id);
    });
  }

  _maybeContinue(responseId) {
    const response = this.responses.get(responseId);
    if (!response || !response.done || response.continued || response.callIds.size === 0) return;
    for (const callId of response.callIds) {
      if (!this.calls.get(callId).answered) return;
    }
    response.continued = true;
    if (this.shouldContinue()) this.send({ type: "response.create" });
  }
}
