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

// Run `fn` now if connected and on every later (re)connect.
export function onConnect(fn) {
  socket.on("connect", fn);
  if (socket.connected) fn();
}
