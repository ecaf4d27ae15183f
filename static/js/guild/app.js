// /g/{slug}: the guild app. Wires REST state, socket events and the open channel's Conversation.
import { api, ApiError, toast } from "../api.js";
import { Composer, TypingIndicator } from "../chat/composer.js";
import { Conversation } from "../chat/conversation.js";
import { errorText } from "../chat/errors.js";
import { call, me, onConnect, socket } from "../realtime.js";
import { fmtDateTime, h, MOD_ROLES } from "../ui.js";
import { icon } from "../icons.js";
import { t } from "../i18n.js";
import { renderChannels, renderRail } from "./channels.js";
import { renderMembers, timedOut } from "./members.js";
import { auditLogDialog, memberDialog, slowModeDialog } from "./moderation.js";

const root = document.getElementById("guild-app");
const slug = root.dataset.slug;
const el = (id) => document.getElementById(id);

const state = {
  guild: null, guilds: [], membership: null, categories: [], channels: new Map(),
  members: new Map(), current: null, conv: null, activity: new Set(),
};
const composer = new Composer(el("composer-wrap"), {
  placeholder: t("Message"),
  onSend: (text) => state.conv?.send(text),
  onTyping: () => state.current && call("typing", { channel_id: state.current.id }),
});
const typing = new TypingIndicator(composer.typing);

const ROLES = { owner: t("owner"), admin: t("admin"), moderator: t("moderator"), member: t("member") };
const roleName = (role) => ROLES[role] || role;
const isModerator = () => MOD_ROLES.has(state.membership?.role);

// --- loading --------------------------------------------------------------------------------

async function load() {
  try {
    state.guild = await api("GET", `/api/guilds/${encodeURIComponent(slug)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) { showMissing(); return; }
    toast(err.message); return;
  }
  document.title = `${state.guild.name} · ${document.title.split(" · ").pop()}`;
  el("guild-name").textContent = state.guild.name;
  state.membership = await api("GET", `/api/guilds/${encodeURIComponent(slug)}/membership`).catch(() => null);
  api("GET", "/api/guilds").then((g) => { state.guilds = g; drawRail(); }).catch(() => {});
  if (!state.membership) { showJoin(); return; }
  showRole();
  await Promise.all([loadChannels(), loadMembers()]);
  const wanted = Number(new URLSearchParams(location.search).get("channel") || localStorage.getItem(`lastChannel:${slug}`));
  const all = [...state.channels.values()];
  openChannel(state.channels.get(wanted) || all.find((c) => c.can_read && c.kind === "text")
    || all.find((c) => c.can_read) || all[0]);
}

async function loadChannels() {
  const res = await api("GET", `/api/guilds/${encodeURIComponent(slug)}/channels`);
  state.categories = res.categories || [];
  state.channels.clear();
  for (const cat of state.categories) for (const ch of cat.channels || []) state.channels.set(ch.id, ch);
  if (state.current) state.current = state.channels.get(state.current.id) || state.current;
  drawChannels();
}

async function loadMembers() {
  const list = await api("GET", `/api/guilds/${encodeURIComponent(slug)}/members`);
  state.members = new Map((Array.isArray(list) ? list : list.members || []).map((m) => [m.user_id, m]));
  drawMembers();
}

function showMissing() {
  root.hidden = true;
  el("guild-missing").hidden = false;
}

function showJoin() {
  el("timeline").replaceChildren(h("div", { class: "empty-state", "data-testid": "join-prompt" },
    h("h2", {}, t("You are not a member of {guild}", { guild: state.guild.name })),
    h("p", { class: "muted" }, state.guild.description || ""),
    h("button", { type: "button", class: "button", "data-testid": "btn-join", onclick: async (ev) => {
      ev.currentTarget.disabled = true;
      try { await api("POST", `/api/guilds/${encodeURIComponent(slug)}/join`); location.reload(); } catch (err) {
        toast(errorText({ code: err.code, message: err.message, details: err.details }));
        ev.currentTarget.disabled = false;
      }
    } }, t("Join this guild"))));
  composer.setDisabled(t("Join the guild to chat."));
}

function showRole() {
  const badge = el("my-role");
  const role = state.membership.role;
  badge.hidden = !MOD_ROLES.has(role);
  badge.textContent = roleName(role);
  el("btn-audit").hidden = !isModerator();
}

// --- drawing --------------------------------------------------------------------------------

const drawRail = () => renderRail(el("guild-rail"), state.guilds, slug, state.activity);
const drawChannels = () => renderChannels(el("channel-list"), state.categories, state.current?.id, openChannel);
const drawMembers = () => renderMembers(el("members"), state.members, pickMember);

function drawHeader() {
  const ch = state.current;
  if (!ch) return;
  el("channel-title").replaceChildren(h("span", { class: "hash" }, icon(ch.kind === "announcement" ? "megaphone" : "hash", 20)), ch.name);
  const slow = el("slow-badge");
  slow.hidden = !ch.slow_mode_s;
  slow.textContent = ch.slow_mode_s ? t("Slow mode {seconds} s", { seconds: ch.slow_mode_s }) : "";
  el("btn-slow").hidden = !isModerator() || !ch.can_read;
  composer.setSlowMode(isModerator() ? 0 : ch.slow_mode_s);
  refreshComposer();
}

// Why this person cannot write in the open channel, or null.
function blockReason() {
  const ch = state.current;
  if (!ch) return t("Pick a channel.");
  const mine = state.membership;
  if (timedOut(mine)) return t("You are timed out until {date}: you cannot send messages until then.", { date: fmtDateTime(mine.timeout_until) });
  if (!ch.can_read) return t("This channel is for paid members: it is locked for you.");
  if (ch.kind === "announcement" && !isModerator()) return t("This is an announcement channel: only moderators can post here.");
  if (ch.can_send === false) return t("You cannot send messages in this channel.");
  return null;
}

function refreshComposer() {
  composer.setDisabled(blockReason());
  composer.input.setAttribute("aria-label", state.current ? t("Message #{channel}", { channel: state.current.name }) : t("Message"));
  if (!composer.input.disabled) composer.input.placeholder = composer.input.getAttribute("aria-label");
  clearTimeout(refreshComposer.timer);
  const until = Date.parse(state.membership?.timeout_until || "");
  if (until > Date.now()) refreshComposer.timer = setTimeout(refreshComposer, Math.min(until - Date.now() + 500, 2 ** 31 - 1));
}

function showLocked(ch, error) {
  el("timeline").replaceChildren(h("div", { class: "empty-state locked", "data-testid": "channel-locked" },
    h("div", { class: "lock" }, icon("lock", 48)),
    h("h2", {}, t("#{channel} is locked", { channel: ch.name })),
    h("p", { class: "muted" }, error ? errorText(error) : t("This channel is for paid members."))));
}

// --- the open channel -----------------------------------------------------------------------

function openChannel(ch) {
  if (!ch || ch.id === state.current?.id) return;
  if (state.conv) {
    state.conv.close();
    if (state.current?.can_read) call("leave_channel", { channel_id: state.current.id });
  }
  state.current = ch;
  ch.mentioned = false;
  typing.people.clear(); typing.render();
  const url = new URL(location.href);
  url.searchParams.set("channel", String(ch.id));
  history.replaceState(null, "", url);
  localStorage.setItem(`lastChannel:${slug}`, String(ch.id));
  drawChannels();
  drawHeader();
  if (!ch.can_read) { state.conv = null; showLocked(ch); return; }
  state.conv = new Conversation(el("timeline"), channelAdapter(ch), {
    canModerate: isModerator,
    canReact: () => !timedOut(state.membership),
    onError: onActionError,
    onLocked: (error) => { ch.can_read = false; showLocked(ch, error); drawChannels(); refreshComposer(); },
    onMeta: (data) => { if (data.channel) { mergeChannel(data.channel); } },
    onRead: (data) => { ch.unread = data.unread ?? 0; ch.last_read_seq = data.last_read_seq ?? ch.last_read_seq; drawChannels(); },
  });
  if (socket.connected) state.conv.connected();
  composer.focus();
}

function channelAdapter(ch) {
  return {
    lastReadSeq: ch.last_read_seq || 0,
    join: (since) => call("join_channel", since === undefined ? { channel_id: ch.id } : { channel_id: ch.id, since_seq: since }),
    history: (params) => api("GET", `/api/channels/${ch.id}/messages?${new URLSearchParams({ limit: "50", ...params })}`),
    send: (content, clientId) => call("send_message", { channel_id: ch.id, content, client_msg_id: clientId }),
    markRead: (seq) => call("mark_read", { channel_id: ch.id, seq }),
    matches: (m) => m.channel_id === ch.id,
  };
}

// Shared channel fields only: unread and can_* are per person and come from our own reads.
function mergeChannel(update) {
  const ch = state.channels.get(update.id);
  if (!ch) return;
  for (const key of ["name", "kind", "requires_paid", "slow_mode_s", "position", "category_id"]) {
    if (update[key] !== undefined) ch[key] = update[key];
  }
  if (update.last_seq !== undefined) ch.last_seq = Math.max(ch.last_seq || 0, update.last_seq);
  drawChannels();
  if (ch === state.current) drawHeader();
}

function onActionError(error) {
  if (error?.code === "timed_out" && error.details?.until) {
    state.membership.timeout_until = error.details.until;
    refreshComposer();
  }
  composer.showError(errorText(error));
  if (composer.input.disabled) toast(errorText(error));
}

// --- members and moderation -----------------------------------------------------------------

async function pickMember(m) {
  const done = await memberDialog(m, { slug, isModerator: isModerator(), isOwner: state.membership?.role === "owner", isMe: m.user_id === me.id,
    onDone: (label) => toast({ timeout: t("{name} is timed out.", { name: m.display_name }),
      untimeout: t("Timeout lifted for {name}.", { name: m.display_name }),
      kick: t("{name} was kicked.", { name: m.display_name }), ban: t("{name} was banned.", { name: m.display_name }),
      role: t("The role of {name} was changed.", { name: m.display_name }) }[label]
      || t("Done.")) });
  if (done) loadMembers().catch(() => {});
}

el("btn-slow").addEventListener("click", () => state.current && slowModeDialog(state.current, (updated) => {
  if (updated?.id) mergeChannel(updated);
}));
el("btn-audit").addEventListener("click", () => auditLogDialog(slug, state.members));
el("btn-members").addEventListener("click", (ev) => {
  const hidden = root.classList.toggle("no-members");
  ev.currentTarget.setAttribute("aria-pressed", String(!hidden));
});

// --- socket events --------------------------------------------------------------------------

const inGuild = (e) => state.guild && e.guild_id === state.guild.id;

socket.on("new_message", (e) => {
  typing.remove(e.message?.author?.id);
  state.conv?.receive(e.message);
});
socket.on("message_edited", (e) => state.conv?.update(e.message));
socket.on("message_deleted", (e) => state.conv?.update(e.message));
socket.on("reaction_updated", (e) => {
  if (state.current && e.channel_id === state.current.id) state.conv?.updateReactions(e.message_id, e.reactions);
});
socket.on("typing", (e) => {
  if (state.current && e.channel_id === state.current.id && e.user?.id !== me.id) typing.add(e.user, e.expires_in_ms);
});
socket.on("channel_activity", (e) => {
  const ch = state.channels.get(e.channel_id);
  if (!inGuild(e) || !ch) {
    if (e.author_id !== me.id && e.guild_id) { state.activity.add(e.guild_id); drawRail(); }
    return;
  }
  ch.last_seq = Math.max(ch.last_seq || 0, e.last_seq);
  if (ch === state.current) { state.conv?.noteLastSeq(e.last_seq); return; }
  if (e.author_id !== me.id) ch.unread = Math.max(0, ch.last_seq - (ch.last_read_seq || 0));
  drawChannels();
});
socket.on("unread_updated", (e) => {
  const ch = state.channels.get(e.channel_id);
  if (!ch) return;
  ch.last_read_seq = Math.max(ch.last_read_seq || 0, e.last_read_seq);
  ch.unread = e.unread;
  if (ch === state.current && state.conv) state.conv.lastReadSeq = Math.max(state.conv.lastReadSeq, e.last_read_seq);
  drawChannels();
});
socket.on("mention", (e) => {
  if (!inGuild(e) || e.channel_id === state.current?.id) return;
  const ch = state.channels.get(e.channel_id);
  if (ch) { ch.mentioned = true; drawChannels(); }
  const name = e.message?.author?.display_name || t("Someone");
  toast(ch ? t("{name} mentioned you in #{channel}", { name, channel: ch.name }) : t("{name} mentioned you in a channel", { name }));
});
function setPresence(userId, online) {
  const m = state.members.get(userId);
  if (!m) return false;
  m.online = online;
  return true;
}
socket.on("presence", (e) => {
  if (!inGuild(e)) return;
  if (!setPresence(e.user_id, e.status === "online")) {
    if (e.status === "online") loadMembers().catch(() => {});
    return;
  }
  drawMembers();
});
// Changes that arrived within one batching window (for example a reconnect storm).
socket.on("presence_batch", (e) => {
  if (!inGuild(e)) return;
  const unknown = e.online.filter((id) => !setPresence(id, true));
  e.offline.forEach((id) => setPresence(id, false));
  if (unknown.length) loadMembers().catch(() => {});
  drawMembers();
});
socket.on("member_timed_out", (e) => {
  if (!inGuild(e)) return;
  const m = state.members.get(e.user_id);
  if (m) { m.timeout_until = e.until; drawMembers(); }
  if (e.user_id === me.id) {
    state.membership.timeout_until = e.until;
    refreshComposer();
    toast(e.until ? t("A moderator timed you out until {date}.", { date: fmtDateTime(e.until) }) : t("Your timeout was lifted."));
  }
});
socket.on("member_removed", (e) => {
  if (!inGuild(e)) return;
  if (e.user_id === me.id) {
    const guild = state.guild.name;
    const how = { kick: t("You were kicked from {guild}", { guild }), ban: t("You were banned from {guild}", { guild }) }[e.action]
      || t("You left {guild}", { guild });
    state.conv?.close();
    composer.setDisabled(e.reason ? t("{what}: {reason}", { what: how, reason: e.reason }) : `${how}.`);
    toast(`${how}.`);
    setTimeout(() => location.assign("/home"), 2500);
    return;
  }
  state.members.delete(e.user_id);
  drawMembers();
});
socket.on("channel_updated", (e) => e.channel && mergeChannel(e.channel));

// Why channels went away, as the server names it (access_ended.reason).
const ACCESS_ENDED = {
  paid_access_removed: t("The guild owner removed your paid access."),
  refunded: t("Your purchase was refunded."),
  dispute_lost: t("Your payment was disputed and the dispute was lost."),
  payment_grace_ended: t("Your payment is still missing after the grace period."),
  subscription_ended: t("Your subscription has ended."),
  role_changed: t("You are no longer a moderator."),
  kick: t("You were removed from this guild."),
  ban: t("You were removed from this guild."),
  leave: t("You left this guild."),
};
const accessEndedText = (reason) => ACCESS_ENDED[reason] || t("Your access has changed.");

function showAccessEnded(ch, why) {
  el("timeline").replaceChildren(h("div", { class: "empty-state locked", "data-testid": "access-ended", role: "status" },
    h("div", { class: "lock" }, icon("lock", 48)),
    h("h2", {}, t("#{channel} is no longer available to you", { channel: ch.name })),
    h("p", { class: "muted" }, why)));
}

// The server has already taken this page's socket out of these channels' rooms (nothing of
// them arrives any more): drop them from the list and say why, in the reader's language.
socket.on("access_ended", (e) => {
  if (!inGuild(e)) return;
  const gone = new Set(e.channel_ids || []);
  const why = accessEndedText(e.reason);
  for (const cat of state.categories) cat.channels = (cat.channels || []).filter((c) => !gone.has(c.id));
  state.categories = state.categories.filter((cat) => (cat.channels || []).length);
  for (const id of gone) state.channels.delete(id);
  if (state.current && gone.has(state.current.id)) {
    state.conv?.close();
    state.conv = null;
    state.current.can_read = false;
    state.current.can_send = false;
    showAccessEnded(state.current, why);
    refreshComposer();
    composer.setDisabled(why);
  }
  drawChannels();
  if (e.reason === "role_changed") {
    api("GET", `/api/guilds/${encodeURIComponent(slug)}/membership`)
      .then((m) => { state.membership = m; showRole(); drawHeader(); }).catch(() => {});
  }
  // A removal from the guild is told by member_removed (and the page leaves): one message.
  if (!["kick", "ban", "leave"].includes(e.reason)) toast(why);
});

// Every reconnect: catch up on the open channel (since its last seq) and resend the outbox;
// channel unread counts and presence may have moved while we were away, so reload them too.
let connectedOnce = false;
onConnect(() => {
  if (connectedOnce && state.membership) {
    api("GET", `/api/guilds/${encodeURIComponent(slug)}/membership`)
      .then((m) => { state.membership = m; showRole(); drawHeader(); }).catch(() => {});
    loadChannels().then(drawHeader).catch(() => {});
    loadMembers().catch(() => {});
  }
  connectedOnce = true;
  state.conv?.connected();
});

load();
