// Node socket.io peer for bench/fanout: the same broadcast work as our chat path, minus auth and
// storage. PORT is required; with REDIS_URL set it fans out through @socket.io/redis-adapter.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL || "";
let nextId = 1;
const seqs = new Map(); // in memory and per process: this peer has no persistence

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" })[c]);
}

// A Message of the same shape and about the same size as ours (docs/realtime.md).
function message(socket, channelId, content, clientMsgId) {
  const seq = (seqs.get(channelId) || 0) + 1;
  seqs.set(channelId, seq);
  return {
    id: nextId++, channel_id: channelId, conversation_id: null, seq,
    author: { id: 0, display_name: socket.id.slice(0, 8) }, content,
    html: `<p>${escapeHtml(content)}</p>`, client_msg_id: clientMsgId, mentions: [],
    reactions: [], created_at: new Date().toISOString(), edited_at: null, deleted: false,
  };
}

async function main() {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ["websocket"], cors: { origin: true, credentials: true } });
  if (redisUrl) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: "bench-node" }));
  }
  io.on("connection", (socket) => {
    socket.on("join_channel", (data, ack) => {
      const channelId = Number(data.channel_id);
      socket.join(`channel:${channelId}`);
      ack({ ok: true, data: { channel: { id: channelId }, messages: [], resync: false } });
    });
    socket.on("send_message", (data, ack) => {
      const channelId = Number(data.channel_id);
      const msg = message(socket, channelId, String(data.content), String(data.client_msg_id));
      io.to(`channel:${channelId}`).emit("new_message", { type: "new_message", message: msg });
      ack({ ok: true, data: { message: msg, duplicate: false } });
    });
  });
  httpServer.listen(port, "127.0.0.1", () => console.log(`node peer listening on ${port}`));
  const stop = () => { io.close(); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => { console.error(err); process.exit(1); });
