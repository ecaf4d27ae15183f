import { api, showError } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("login-form");
const errorEl = document.getElementById("form-error");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  errorEl.hidden = true;
  const email = form.email.value.trim();
  if (!email || !email.includes("@")) {
    showError(errorEl, new Error());
    errorEl.textContent = t("Enter a valid email address.");
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await api("POST", "/api/auth/magic-link/send", { email });
    location.assign(`/verify?email=${encodeURIComponent(email)}`);
  } catch (err) {
    showError(errorEl, err);
    button.disabled = false;
  }
});
// Submitted before this module loaded (the form's inline guard held it back): send it now.
if (form.dataset.pending) form.requestSubmit();
