// Page wiring: builds the parts and connects them. Each part owns its own state:
//   signin.js        the token, the sign-in and sign-out forms
//   call.js          the voice session, the microphone, typed messages, timers
//   memory_panel.js  the memory list, search, delete, export, forget
//   page_tools.js    the voice tools the page runs (theme, goodbye, app actions)
//   pickers.js, pairing.js, transcript.js, settings.js, ui.js: the smaller pieces

import { ApiClient } from "./api.js";
import { Call } from "./call.js";
import { MemoryPanel } from "./memory_panel.js";
import { createPageTools } from "./page_tools.js";
import { BridgePairing } from "./pairing.js";
import { Pickers } from "./pickers.js";
import { bindSettingsForm, settings } from "./settings.js";
import { SignIn } from "./signin.js";
import { ToolRouter } from "./tools.js";
import { transcript } from "./transcript.js";
import { applyTheme, bindPageControls, clearError, setStatus } from "./ui.js";

let signIn = null; // set below; the API client asks it for the token on each request
const api = new ApiClient({ baseUrl: settings.apiBase, token: () => signIn && signIn.token });
const pickers = new Pickers({ api });
const memories = new MemoryPanel({ api, signedIn: () => Boolean(signIn && signIn.signedIn) });
let call = null; // the pairing and the page tools reach the call only through callbacks
const pairing = new BridgePairing({
  onPaired: () => { if (call.connected) call.sendTools(); },
});
const pageTools = createPageTools({
  memories, pickers, transcript, applyTheme, endConversation: () => call.endByAssistant(),
});
const router = new ToolRouter({
  api,
  bridge: () => pairing.client,
  page: pageTools,
  onApiResult: (name, result) => {
    if (name === "add_memories" && result && result.job_id) memories.refreshAfterJob(result.job_id);
  },
});
call = new Call({ api, router, pickers, pairing, transcript });
signIn = new SignIn({
  api,
  onSignedIn: () => {
    pickers.load();
    memories.load({ reset: true });
  },
  onSignedOut: () => {
    if (call.voice) call.voice.hangup("signed out");
    memories.clear();
    transcript.clear();
  },
});

bindPageControls();
signIn.bind();
pickers.bind();
call.bind();
memories.bind();
pairing.bind();
bindSettingsForm({
  onApiChanged: () => {
    clearError();
    signIn.show();
  },
});

applyTheme(document.documentElement.dataset.theme || "light");
setStatus("idle");
pairing.resume();
signIn.show();
document.body.dataset.ready = "true";
