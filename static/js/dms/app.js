// /dms: conversation list, one open conversation (join_dm / send_dm), block and unblock.
import { api, ApiError, toast } from "../api.js";
import { Composer, TypingIndicator } from "../chat/composer.js";
import { Conversation } from "../chat/conversation.js";
import { errorText } from "../chat/errors.js";
import { call, me, onConnect, socket } from "../realtime.js";
import { t } from "../i18n.js";
import { h, hue, initials } from "../ui.js";

const el = (id) => document.getElementById(id);
const state = { convs: [], other: null, conv: null, conversationId: null };

const composer = new Composer(el("composer-wrap"), {
  placeholder: t("Message"),
  onSend: (text) => state.conv?.send(text),
  onTyping: () => state.other && call("typing", { user_id: state.other.id }),
});
const typing = new TypingIndicator(composer.typing);
composer.setDisabled(t("Pick a conversation."));

const findConv = (userId) => state.convs.find((c) => c.other?.id === userId);

function drawList() {
  const sorted = [...state.convs].sort((a, b) => (b.last_activity || b.last_seq || 0) - (a.last_activity || a.last_seq || 0));
  el("dm-list").replaceChildren(...(sorted.length ? sorted.map((c) => h("button", {
    type: "button", class: `chan dm${c.other?.id === state.other?.id ? " active" : ""}${c.unread ? " unread" : ""}`,
    "data-testid": "dm-item", dataset: { userId: c.other?.id }, onclick: () => openWith(c.other),
  },
  h("span", { class: "avatar small", style: `--h:${hue(c.other?.id)}` }, initials(c.other?.display_name)),
  h("span", { class: "chan-name" }, c.other?.display_name || t("Unknown")),
  c.blocked ? h("span", { class: "badge danger" }, t("blocked")) : null,
  c.unread && c.other?.id !== state.other?.id ? h("span", { class: "badge unread", "data-testid": "unread-badge" }, String(c.unread)) : null))
    : [h("p", { class: "muted small pad" }, t("No conversations yet."))]));
}

async function loadList() {
  const convs = await api("GET", "/api/dms");
  // Keep conversations opened here that the server does not list yet (no message so far).
  state.convs = [...convs, ...state.convs.filter((c) => !convs.some((x) => x.other?.id === c.other?.id))];
  drawList();
}

function drawHeader() {
  const c = findConv(state.other?.id);
  const blocked = Boolean(c?.blocked);
  el("dm-title").textContent = state.other ? `@ ${state.other.display_name || t("user {id}", { id: state.other.id })}` : t("Pick a conversation");
  el("blocked-badge").hidden = !blocked;
  const btn = el("btn-block");
  btn.hidden = !state.other;
  btn.textContent = blocked ? t("Unblock") : t("Block");
  composer.setDisabled(blocked ? t("This conversation is blocked: unblock to write again (if they blocked you, you cannot write).") : null);
}

function openWith(other) {
  if (!other?.id || other.id === me.id) return;
  state.conv?.close();
  state.other = other;
  state.conversationId = findConv(other.id)?.id ?? null;
  typing.people.clear(); typing.render();
  const url = new URL(location.href);
  url.searchParams.set("user", String(other.id));
  history.replaceState(null, "", url);
  const c = findConv(other.id);
  state.conv = new Conversation(el("timeline"), dmAdapter(other, c), {
    onError: (error) => {
      composer.showError(errorText(error));
      // A suspended account receives nothing until reinstated: say so and stop offering to write.
      if (error?.code === "recipient_suspended") composer.setDisabled(errorText(error));
    },
    onLocked: (error) => composer.setDisabled(errorText(error)),
    onMeta: (data) => {
      const conv = data.conversation;
      if (!conv) return;
      state.conversationId = conv.id;
      if (conv.other?.display_name) state.other = conv.other;
      const known = findConv(other.id);
      if (known) Object.assign(known, { id: conv.id, blocked: conv.blocked ?? known.blocked });
      else {
        state.convs.push({ ...conv, other: conv.other || other, unread: 0 });
        // A new conversation: the list knows the other person's name once it exists.
        loadList().then(() => { state.other = findConv(other.id)?.other || state.other; drawList(); drawHeader(); }).catch(() => {});
      }
      const theirs = (data.messages || []).find((m) => m.author?.id === other.id);
      if (!state.other.display_name && theirs) state.other = theirs.author;
      drawList(); drawHeader();
    },
    onRead: () => { const k = findConv(other.id); if (k) { k.unread = 0; drawList(); } },
  });
  drawList();
  drawHeader();
  if (socket.connected) state.conv.connected();
  composer.focus();
}

function dmAdapter(other, known) {
  return {
    lastReadSeq: known?.last_read_seq || 0,
    join: (since) => call("join_dm", since === undefined ? { user_id: other.id } : { user_id: other.id, since_seq: since }),
    history: (params) => api("GET", `/api/dms/${other.id}/messages?${new URLSearchParams({ limit: "50", ...params })}`),
    send: (content, clientId) => call("send_dm", { user_id: other.id, content, client_msg_id: clientId }),
    markRead: (seq) => call("mark_read", { user_id: other.id, seq }),
    matches: (m) => state.conversationId !== null && m.conversation_id === state.conversationId,
  };
}

el("btn-block").addEventListener("click", async () => {
  const c = findConv(state.other?.id);
  const blocked = Boolean(c?.blocked);
  if (!blocked && !confirm(t("Block {name}? Neither of you can send direct messages then.", { name: state.other.display_name }))) return;
  try {
    await api(blocked ? "DELETE" : "POST", `/api/users/${state.other.id}/block`);
    if (c) c.blocked = !blocked;
    toast(blocked ? t("Unblocked.") : t("Blocked."));
    drawList(); drawHeader();
  } catch (err) {
    toast(err instanceof ApiError ? errorText({ code: err.code, message: err.message }) : t("Network error, try again."));
  }
});

const isOpen = (e) => state.conversationId !== null && e.conversation_id === state.conversationId;

socket.on("new_dm", (e) => {
  const m = e.message;
  if (state.conversationId === null && state.other && m.author?.id === state.other.id) state.conversationId = e.conversation_id;
  if (isOpen(e)) { typing.remove(m.author?.id); state.conv?.receive(m); }
  const c = state.convs.find((x) => x.id === e.conversation_id);
  if (!c) { loadList().catch(() => {}); return; }
  c.last_seq = Math.max(c.last_seq || 0, m.seq);
  c.last_activity = Date.now();
  if (!isOpen(e) && m.author?.id !== me.id) c.unread = (c.unread || 0) + 1;
  drawList();
});
socket.on("message_edited", (e) => isOpen(e.message) && state.conv?.update(e.message));
socket.on("message_deleted", (e) => isOpen(e.message) && state.conv?.update(e.message));
socket.on("reaction_updated", (e) => isOpen(e) && state.conv?.updateReactions(e.message_id, e.reactions));
socket.on("typing", (e) => { if (isOpen(e) && e.user?.id !== me.id) typing.add(e.user, e.expires_in_ms); });
socket.on("unread_updated", (e) => {
  const c = state.convs.find((x) => x.id === e.conversation_id);
  if (c) { c.unread = e.unread; c.last_read_seq = e.last_read_seq; drawList(); }
});

let connectedOnce = false;
onConnect(() => {
  if (connectedOnce) loadList().catch(() => {});
  connectedOnce = true;
  state.conv?.connected();
});

loadList().then(() => {
  const wanted = Number(new URLSearchParams(location.search).get("user"));
  const name = new URLSearchParams(location.search).get("name") || "";
  if (wanted) openWith(findConv(wanted)?.other || { id: wanted, display_name: name });
}).catch((err) => toast(err instanceof ApiError ? err.message : t("Could not load conversations")));
