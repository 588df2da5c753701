// Sign-in: the dev sign-in form (only when the API offers it), a pasted JWT, sign-out.
//
// The token lives in sessionStorage only (gone when the tab closes) and is held here; the API
// client asks for it on every request.

import { tokenSubject } from "./api.js";
import { store } from "./settings.js";
import { $, clearError, describe, showError } from "./ui.js";

export class SignIn {
  /**
   * @param {{api: import("./api.js").ApiClient, onSignedIn: () => void, onSignedOut: () => void}} options
   *   onSignedIn runs each time the signed-in view is shown; onSignedOut once per sign-out.
   */
  constructor({ api, onSignedIn, onSignedOut }) {
    this.api = api;
    this.onSignedIn = onSignedIn;
    this.onSignedOut = onSignedOut;
    this.token = store.getSession("va.token");
  }

  get signedIn() {
    return Boolean(this.token);
  }

  /** Show the signed-in or the sign-in view for the current token. */
  show() {
    const signedIn = this.signedIn;
    $("signin-view").hidden = signedIn;
    $("app-view").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
    $("user-badge").hidden = !signedIn;
    $("user-badge").textContent = signedIn ? `Signed in as ${tokenSubject(this.token) || "unknown user"}` : "";
    if (signedIn) this.onSignedIn();
    else this.probeDevSignIn();
  }

  async probeDevSignIn() {
    $("dev-signin-form").hidden = !(await this.api.hasDevSignIn());
  }

  signIn(token) {
    this.token = token.trim();
    store.setSession("va.token", this.token);
    clearError();
    this.show();
    $("main").focus();
  }

  signOut() {
    this.onSignedOut(); // first, so the call hangs up while still signed in
    this.token = null;
    store.setSession("va.token", null);
    this.show();
  }

  bind() {
    $("dev-signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = $("dev-signin");
      button.disabled = true;
      try {
        this.signIn(await this.api.devToken($("dev-user").value.trim()));
      } catch (err) {
        showError(`Dev sign-in failed: ${describe(err)}`);
      } finally {
        button.disabled = false;
      }
    });
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token-input").value.trim();
      if (token.split(".").length !== 3) {
        showError("That does not look like a JWT (three dot-separated parts expected).");
        return;
      }
      $("token-input").value = "";
      this.signIn(token);
    });
    $("sign-out").addEventListener("click", () => this.signOut());
  }
}
