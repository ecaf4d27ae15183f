// The message timeline DOM: messages ordered by seq, pending sends below them, a bottom sentinel.
import { t } from "../i18n.js";
import { icon } from "../icons.js";
import { fmtDateTime, fmtTime, h, hue, initials } from "../ui.js";
import { errorText, isTransient } from "./errors.js";

export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🔥", "👀"];
const GROUP_MS = 7 * 60 * 1000;

function avatar(author) {
  return h("div", { class: "avatar", style: `--h:${hue(author?.id)}`, "aria-hidden": "true" },
    initials(author?.display_name));
}

function reactionBar(msg, ctx) {
  const bar = h("div", { class: "reactions", "data-testid": "reactions" });
  for (const r of msg.reactions || []) {
    const mine = (r.user_ids || []).includes(ctx.me.id);
    bar.append(h("button", {
      type: "button", class: `reaction${mine ? " mine" : ""}`, "aria-pressed": String(mine),
      "data-testid": "reaction", title: mine ? t("Remove your reaction") : t("React"),
      onclick: () => ctx.onReact(msg, r.emoji),
    }, h("span", { class: "emoji" }, r.emoji), h("span", { class: "count" }, String(r.count))));
  }
  return bar;
}

function emojiPicker(msg, ctx, anchor) {
  document.querySelector(".emoji-picker")?.remove();
  const picker = h("div", { class: "emoji-picker", role: "menu" },
    QUICK_EMOJI.map((e) => h("button", {
      type: "button", role: "menuitem", "data-emoji": e,
      onclick: () => { picker.remove(); ctx.onReact(msg, e); },
    }, e)));
  anchor.closest(".msg").append(picker);
  const away = (ev) => { if (!picker.contains(ev.target)) { picker.remove(); document.removeEventListener("click", away, true); } };
  setTimeout(() => document.addEventListener("click", away, true));
}

function actions(msg, ctx) {
  if (msg.deleted) return null;
  const own = msg.author?.id === ctx.me.id;
  const bar = h("div", { class: "msg-actions" });
  if (ctx.canReact()) {
    bar.append(h("button", { type: "button", title: t("Add reaction"), "aria-label": t("Add reaction"), "data-testid": "btn-react",
      onclick: (ev) => emojiPicker(msg, ctx, ev.currentTarget) }, icon("smile")));
  }
  if (own) bar.append(h("button", { type: "button", title: t("Edit"), "aria-label": t("Edit"), "data-testid": "btn-edit", onclick: () => ctx.onEdit(msg) }, icon("pencil")));
  if (own || ctx.canModerate()) {
    bar.append(h("button", { type: "button", title: t("Delete"), "aria-label": t("Delete"), class: "danger", "data-testid": "btn-delete", onclick: () => ctx.onDelete(msg) }, icon("trash")));
  }
  return bar;
}

export function renderMessage(msg, ctx) {
  const content = msg.deleted
    ? h("div", { class: "content tombstone", "data-testid": "tombstone" }, t("This message was deleted."))
    : h("div", { class: "content md", html: msg.html });
  const el = h("article", {
    class: `msg${msg.deleted ? " deleted" : ""}${msg.mentions?.includes(ctx.me.id) ? " mentioned" : ""}`,
    "data-testid": "message",
    dataset: { seq: msg.seq, id: msg.id, author: msg.author?.id, at: Date.parse(msg.created_at) || 0 },
  },
  avatar(msg.author),
  h("div", { class: "msg-main" },
    h("header", { class: "msg-head" },
      h("span", { class: "author", "data-testid": "author" }, msg.author?.display_name || t("Unknown")),
      h("time", { datetime: msg.created_at, title: fmtDateTime(msg.created_at) }, fmtTime(msg.created_at)),
      msg.edited_at && !msg.deleted ? h("span", { class: "edited", title: fmtDateTime(msg.edited_at), "data-testid": "edited" }, t("(edited)")) : null),
    content,
    msg.deleted ? null : reactionBar(msg, ctx)),
  actions(msg, ctx));
  return el;
}

export function renderPending(item, ctx) {
  const failed = item.status === "failed";
  return h("article", {
    class: `msg pending${failed ? " failed" : ""}`, "data-testid": "pending-message",
    dataset: { clientId: item.clientId, status: item.status },
  },
  avatar({ id: ctx.me.id, display_name: ctx.me.name }),
  h("div", { class: "msg-main" },
    h("header", { class: "msg-head" },
      h("span", { class: "author" }, ctx.me.name),
      h("time", {}, failed ? t("not sent") : t("sending…"))),
    h("div", { class: "content plain" }, item.content),
    failed ? h("div", { class: "send-error", "data-testid": "send-error" },
      h("span", {}, errorText(item.error)),
      isTransient(item.error) ? h("button", { type: "button", class: "link-btn", onclick: () => ctx.onRetry(item) }, t("Retry")) : null,
      h("button", { type: "button", class: "link-btn", onclick: () => ctx.onDiscard(item) }, t("Discard"))) : null));
}

// Consecutive messages of one author within a few minutes show as one group (no repeated header).
function regroup(el) {
  if (!el || !el.classList.contains("msg")) return;
  const prev = el.previousElementSibling;
  const same = prev && !el.classList.contains("pending") && prev.dataset.author === el.dataset.author
    && Number(el.dataset.at) - Number(prev.dataset.at) < GROUP_MS;
  el.classList.toggle("cont", Boolean(same));
}

export class Timeline {
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    root.replaceChildren();
    this.top = h("div", { class: "timeline-top", "data-testid": "timeline-top" });
    this.list = h("div", { class: "msg-list", "data-testid": "message-list" });
    this.pending = h("div", { class: "pending-list" });
    this.sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
    root.append(this.top, this.list, this.pending, this.sentinel);
    this.bySeq = new Map();
  }

  atBottom() {
    const r = this.root;
    return r.scrollHeight - r.scrollTop - r.clientHeight < 48;
  }

  scrollToBottom() { this.root.scrollTop = this.root.scrollHeight; }

  setTop(state) {
    const text = { loading: t("Loading older messages…"), start: t("This is the beginning of the conversation."), more: "" }[state] || "";
    this.top.textContent = text;
    this.top.dataset.state = state;
  }

  clear() { this.list.replaceChildren(); this.bySeq.clear(); }

  // Insert or replace by seq (dedupe); keeps seq order. Returns true when it was new.
  upsert(msg) {
    const el = renderMessage(msg, this.ctx);
    const old = this.bySeq.get(msg.seq);
    this.bySeq.set(msg.seq, el);
    if (old) {
      old.replaceWith(el);
      regroup(el);
      return false;
    }
    let after = this.list.lastElementChild;  // most inserts are at the end
    while (after && Number(after.dataset.seq) > msg.seq) after = after.previousElementSibling;
    if (after) after.after(el); else this.list.prepend(el);
    regroup(el);
    regroup(el.nextElementSibling);
    return true;
  }

  // Older messages go on top without moving what the reader is looking at.
  prependPage(msgs) {
    const before = this.root.scrollHeight;
    for (const m of msgs) this.upsert(m);
    this.root.scrollTop += this.root.scrollHeight - before;
  }

  showPending(item) {
    const el = renderPending(item, this.ctx);
    const old = this.pending.querySelector(`[data-client-id="${CSS.escape(item.clientId)}"]`);
    if (old) old.replaceWith(el); else this.pending.append(el);
  }

  dropPending(clientId) {
    this.pending.querySelector(`[data-client-id="${CSS.escape(clientId)}"]`)?.remove();
  }

  lastSeqShown() {
    return Number(this.list.lastElementChild?.dataset.seq || 0);
  }
}
