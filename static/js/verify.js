import { api, showError, toast } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("verify-form");
const errorEl = document.getElementById("form-error");
const email = form.dataset.email;

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  errorEl.hidden = true;
  const otp = form.otp.value.replace(/\s+/g, "");
  if (!/^\d{6}$/.test(otp)) {
    errorEl.textContent = t("The code has 6 digits.");
    errorEl.hidden = false;
    return;
  }
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const result = await api("POST", "/api/auth/magic-link/verify-otp", { email, otp });
    location.assign(result.redirect);
  } catch (err) {
    showError(errorEl, err);
    button.disabled = false;
    form.otp.select();
  }
});
// Submitted before this module loaded (the form's inline guard held it back): send it now.
if (form.dataset.pending) form.requestSubmit();

document.getElementById("resend").addEventListener("click", async (ev) => {
  ev.preventDefault();
  try {
    await api("POST", "/api/auth/magic-link/send", { email });
    toast(t("A new code is on its way."));
  } catch (err) {
    showError(errorEl, err);
  }
});
