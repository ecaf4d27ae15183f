// Drives the official socket.io-client against a running server and prints one JSON report.
// Input (argv[2], JSON): {base, cookieA, cookieB, cookieC, channelId, transports}. Every wait is bounded.
"use strict";
const { io } = require("socket.io-client");

const args = JSON.parse(process.argv[2]);
const WAIT_MS = 10000;
const BURST = 5;  // the per-member send limit (5 per 5 s)

function withTimeout(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

function open(cookie) {
  const headers = { Origin: args.base };
  if (cookie) headers.Cookie = cookie;
  const opts = { reconnection: false, extraHeaders: headers, timeout: WAIT_MS };
  if (args.transports) opts.transports = args.transports;
  return io(args.base, opts);
}

function connected(socket) {
  return withTimeout(new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }), "connect");
}

function call(socket, event, data) {
  return withTimeout(socket.timeout(WAIT_MS).emitWithAck(event, data), event);
}

function inbox(socket, event) {
  const items = [];
  const waiters = [];
  socket.on(event, (data) => {
    items.push(data);
    for (const w of waiters.splice(0)) w();
  });
  items.until = (pred) => withTimeout(new Promise((resolve) => {
    const check = () => (pred(items) ? resolve(items) : waiters.push(check));
    check();
  }), `${event} until`);
  return items;
}

function send(socket, content) {
  const cmid = `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  return call(socket, "send_message", { channel_id: args.channelId, content, client_msg_id: cmid });
}

async function rejected() {
  const socket = open(null);
  try {
    await connected(socket);
    return { connected: true };
  } catch (err) {
    return { connected: false, message: err.message, data: err.data || null };
  } finally {
    socket.close();
  }
}

async function upgraded(socket) {
  // The default transports start on polling; wait (bounded) for the websocket upgrade.
  if (socket.io.engine.transport.name === "websocket") return "websocket";
  await withTimeout(new Promise((resolve) => socket.io.engine.once("upgrade", resolve)), "upgrade");
  return socket.io.engine.transport.name;
}

async function main() {
  const report = { rejected: await rejected() };
  const a = open(args.cookieA);
  const b = open(args.cookieB);
  const c = open(args.cookieC);  // a second sender: each member may send 5 messages per 5 s
  await Promise.all([connected(a), connected(b), connected(c)]);
  const wantsWs = !args.transports || args.transports.includes("websocket");
  report.transports = wantsWs ? [await upgraded(a), await upgraded(b)]
    : [a.io.engine.transport.name, b.io.engine.transport.name];
  const bMessages = inbox(b, "new_message");
  report.joinA = await call(a, "join_channel", { channel_id: args.channelId });
  report.joinB = await call(b, "join_channel", { channel_id: args.channelId });
  report.joinC = await call(c, "join_channel", { channel_id: args.channelId });

  // Room broadcast: messages sent without waiting each arrive once.
  const acks = await Promise.all(Array.from({ length: BURST }, (_, i) => send(a, `burst ${i}`)));
  report.sendOk = acks.every((x) => x.ok);
  if (!report.sendOk) throw new Error(`send refused: ${JSON.stringify(acks)}`);
  const ids = new Set(acks.map((x) => x.data.message.id));
  await bMessages.until((items) => items.filter((m) => ids.has(m.message.id)).length === BURST);
  report.burstSeqs = bMessages.filter((m) => ids.has(m.message.id)).map((m) => m.message.seq);
  report.ackSeqs = acks.map((x) => x.data.message.seq).sort((x, y) => x - y);

  // Leaving a room: a message sent while B is out is not pushed to B, the next one (after
  // B joins again) is. Same channel and backplane, so had the first reached B, it would
  // have come before the second.
  report.leave = await call(b, "leave_channel", { channel_id: args.channelId });
  const away = await send(c, "while b is away");
  report.rejoin = await call(b, "join_channel", {
    channel_id: args.channelId, since_seq: away.data.message.seq - 1,
  });
  const back = await send(c, "b is back");
  await bMessages.until((items) => items.some((m) => m.message.id === back.data.message.id));
  report.awayPushedToB = bMessages.some((m) => m.message.id === away.data.message.id);
  report.backSeq = back.data.message.seq;
  report.awaySeq = away.data.message.seq;

  // A bad event gets an error ack, not a dropped connection.
  report.badAck = await call(a, "send_message", { channel_id: "not a number" });
  report.stillConnected = a.connected && b.connected && c.connected;
  for (const s of [a, b, c]) s.close();
  return report;
}

main().then(
  (report) => { process.stdout.write(JSON.stringify(report)); process.exit(0); },
  (err) => { process.stdout.write(JSON.stringify({ error: String(err && err.stack || err) })); process.exit(1); },
);
