// Signed-in pages: the one realtime connection (user room), the welcome push, sign-out.
// Other modules import `socket` from here: ES modules are singletons, so a page has one socket.
import { api, toast } from "./api.js";
import { t } from "./i18n.js";

const status = document.getElementById("live-status");
const welcome = document.getElementById("welcome");

function setStatus(state) {
  if (!status) return;
  status.dataset.state = state;
  status.textContent = { live: t("live"), offline: t("offline"), reconnecting: t("reconnecting") }[state] || state;
}

// websocket first; the server also accepts polling for networks that block websockets.
export const socket = window.io({ path: "/socket.io", transports: ["websocket", "polling"], withCredentials: true });
socket.on("connect", () => {
  setStatus("live");
  socket.emit("hello", {}, (ack) => {
    if (!ack || !ack.ok) toast(ack?.error?.message || t("Realtime hello failed"));
  });
});
socket.on("disconnect", () => setStatus("offline"));
// Connecting again: socket.io retries on its own; show it instead of a bare "offline".
socket.io.on("reconnect_attempt", () => setStatus("reconnecting"));
// engine.io only reacts to the browser's offline event off localhost; do it everywhere, so a lost
// network shows at once and the reconnect + catch-up path runs when it is back.
window.addEventListener("offline", () => { if (socket.connected) socket.io.engine?.close(); });
window.addEventListener("online", () => { if (!socket.connected) socket.connect(); });
// One way out: logout's own redirect and the session.revoked push race each other, and a second
// navigation would abort the first.
let leaving = false;
function toLogin() {
  if (leaving) return;
  leaving = true;
  socket.disconnect();
  location.assign("/login");
}

socket.on("connect_error", (err) => {
  setStatus("offline");
  if (err?.data?.code === "unauthorized") toLogin();
});
socket.on("session.welcome", (event) => {
  if (!welcome) return;
  welcome.textContent = t("Live: welcome {name}, pushed by {worker}.", { name: event.user.display_name, worker: event.worker });
  welcome.hidden = false;
});
socket.on("session.revoked", toLogin);

document.getElementById("logout")?.addEventListener("click", async () => {
  try { await api("POST", "/api/auth/logout"); } finally { toLogin(); }
});
