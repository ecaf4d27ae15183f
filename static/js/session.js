// Signed-in pages: the realtime connection (user room), the welcome push, sign-out.
import { api, toast } from "./api.js";

const status = document.getElementById("live-status");
const welcome = document.getElementById("welcome");

function setStatus(state) {
  if (!status) return;
  status.dataset.state = state;
  status.textContent = state;
}

// websocket first; the server also accepts polling for networks that block websockets.
const socket = window.io({ path: "/socket.io", transports: ["websocket", "polling"], withCredentials: true });
socket.on("connect", () => {
  setStatus("live");
  socket.emit("hello", {}, (ack) => {
    if (!ack || !ack.ok) toast(ack?.error?.message || "Realtime hello failed");
  });
});
socket.on("disconnect", () => setStatus("offline"));
socket.on("connect_error", (err) => {
  setStatus("offline");
  if (err?.data?.code === "unauthorized") location.assign("/login");
});
socket.on("session.welcome", (event) => {
  if (!welcome) return;
  welcome.textContent = `Live: welcome ${event.user.display_name}, pushed by ${event.worker}.`;
  welcome.hidden = false;
});
socket.on("session.revoked", () => {
  socket.disconnect();
  location.assign("/login");
});

document.getElementById("logout")?.addEventListener("click", async () => {
  try { await api("POST", "/api/auth/logout"); } finally { location.assign("/login"); }
});
