// Payment button page: start Stripe Checkout and go there.
import { api, showError } from "./api.js";

const button = document.getElementById("pay-button");
const errorEl = document.getElementById("pay-error");
button?.addEventListener("click", async () => {
  button.disabled = true;
  errorEl.hidden = true;
  try {
    const started = await api("POST", "/api/payments/checkout",
      { buttonKey: document.getElementById("pay").dataset.buttonKey });
    location.assign(started.url);
  } catch (err) {
    showError(errorEl, err);
    button.disabled = false;
  }
});
