// Back from Stripe Checkout: the confirmation is pushed over Socket.IO (no polling loop).
import { socket } from "./session.js";

const box = document.getElementById("checkout");
const sessionId = box?.dataset.sessionId;

socket.on("payment_succeeded", async (event) => {
  if (!box || box.dataset.state === "confirmed") return;
  if (sessionId && event.checkout_session_id && event.checkout_session_id !== sessionId) return;
  box.dataset.state = "confirmed";
  document.querySelector("[data-testid=checkout-title]").textContent = "Payment confirmed";
  document.getElementById("checkout-text").textContent = "Your access is active.";
  const open = document.getElementById("checkout-open");
  if (event.guild_id) {
    const guilds = await fetch("/api/guilds", { credentials: "same-origin" }).then((r) => r.json());
    const guild = guilds.find((g) => g.id === event.guild_id);
    if (guild) open.href = `/g/${guild.slug}`;
  }
  open.hidden = false;
});
