// Back from Stripe Checkout: the confirmation is pushed over Socket.IO (no polling loop).
// Once the socket is connected (already, or later), the page reads the status once, in case
// the push went out before this page was listening. session.js is a separate module script:
// its socket may have connected before this one ran, so a bare "connect" handler could miss it.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { onConnect, socket } from "./realtime.js";

const box = document.getElementById("checkout");
const sessionId = box?.dataset.sessionId;

function confirm(guildSlug) {
  if (!box || box.dataset.state === "confirmed") return;
  box.dataset.state = "confirmed";
  document.querySelector("[data-testid=checkout-title]").textContent = t("Payment confirmed");
  document.getElementById("checkout-text").textContent = t("Your access is active.");
  const open = document.getElementById("checkout-open");
  if (guildSlug) open.href = `/g/${guildSlug}`;
  open.hidden = false;
}

socket.on("payment_succeeded", async (event) => {
  if (sessionId && event.checkout_session_id && event.checkout_session_id !== sessionId) return;
  let slug = null;
  if (event.guild_id) {
    const guilds = await api("GET", "/api/guilds").catch(() => []);
    slug = guilds.find((g) => g.id === event.guild_id)?.slug || null;
  }
  confirm(slug);
});

onConnect(async () => {
  if (!sessionId || box?.dataset.state === "confirmed") return;
  const status = await api("GET", `/api/payments/checkout-status?session_id=${encodeURIComponent(sessionId)}`)
    .catch(() => null);
  if (status?.confirmed) confirm(status.guild_slug);
});
