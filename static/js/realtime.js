// Socket calls as promises: every client event gets an ack {ok, data} | {ok: false, error}.
import { t } from "./i18n.js";
import { socket } from "./session.js";

export { socket };

export const me = {
  id: Number(document.body.dataset.userId),
  name: document.body.dataset.userName || "",
};

// Never buffer an emit while disconnected: socket.io would replay it on reconnect *and* the
// outbox would resend it. Callers treat `offline` as "retry once connected".
export function call(event, payload, timeoutMs = 10000) {
  return new Promise((resolve) => {
    if (!socket.connected) {
      resolve({ ok: false, offline: true, error: { code: "offline", message: t("You are offline.") } });
      return;
    }
    socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
      if (err) {
        resolve({ ok: false, offline: true, error: { code: "timeout", message: t("The server did not answer in time.") } });
      } else if (!ack || typeof ack !== "object") {
        resolve({ ok: false, error: { code: "error", message: t("Unexpected answer from the server.") } });
      } else {
        if (!ack.ok && ack.error?.code === "session_ended") location.assign("/login");
        resolve(ack);
      }
    });
  });
}

// Run `fn` now if connected, on every later (re)connect, and on a `resync`: the server's link to
// the other processes (Redis) was down while this socket stayed open, so events may be missing
// exactly as after a reconnect (callers rejoin with since_seq). The server spreads the rejoins
// of its sockets over `jitter_ms`, so they do not all query at once.
const resyncs = new Set();
let resyncTimer = null;
socket.on("resync", (event) => {
  clearTimeout(resyncTimer);
  resyncTimer = setTimeout(() => { if (socket.connected) resyncs.forEach((fn) => fn()); },
    Math.random() * Math.max(0, Number(event?.jitter_ms) || 0));
});
// A reconnect does the same catch-up: a pending resync is then moot.
socket.on("connect", () => clearTimeout(resyncTimer));

export function onConnect(fn) {
  socket.on("connect", fn);
  resyncs.add(fn);
  if (socket.connected) fn();
}
