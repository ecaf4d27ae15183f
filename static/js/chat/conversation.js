// One open channel or DM: gap-free message state over a socket that comes and goes.
//
// The server numbers each stream's messages seq = 1, 2, 3 ... with no gap. We keep `lastSeq`, the
// highest seq up to which we hold every message, and on every (re)connect or detected gap we ask
// for everything after it (join with since_seq). Inserts are keyed by seq, so a message that
// arrives twice (event + catch-up + ack) is shown once, in order. Sends carry a client_msg_id
// that the server deduplicates, so the outbox can resend after a reconnect without doubling.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { call, me, socket } from "../realtime.js";
import { uuid } from "../ui.js";
import { Timeline } from "./messages.js";

const GAP_WAIT_MS = 400;  // an out-of-order event may just be overtaken by its predecessor

export class Conversation {
  constructor(root, adapter, hooks = {}) {
    this.adapter = adapter;
    this.hooks = hooks;  // onError(error), onRead(data), onMeta(data), onLocked(error), canModerate(), canReact()
    this.messages = new Map();  // seq -> Message
    this.seqById = new Map();
    this.lastSeq = 0;
    this.maxSeq = 0;
    this.oldestSeq = 0;
    this.hasMore = false;
    this.lastReadSeq = adapter.lastReadSeq || 0;
    this.outbox = new Map();  // client_msg_id -> {clientId, content, status, error}
    this.opened = false;
    this.closed = false;
    this.timeline = new Timeline(root, {
      me,
      canModerate: () => Boolean(hooks.canModerate?.()),
      canReact: () => hooks.canReact ? hooks.canReact() : true,
      onReact: (msg, emoji) => this.react(msg, emoji),
      onEdit: (msg) => this.startEdit(msg),
      onDelete: (msg) => this.remove(msg),
      onRetry: (item) => this.retry(item),
      onDiscard: (item) => this.discard(item),
    });
    this.timeline.setTop("loading");
    this.onScroll = () => { this.maybeLoadOlder(); this.maybeMarkRead(); };
    this.onVisible = () => this.maybeMarkRead();
    root.addEventListener("scroll", this.onScroll, { passive: true });
    document.addEventListener("visibilitychange", this.onVisible);
  }

  close() {
    this.closed = true;
    this.timeline.root.removeEventListener("scroll", this.onScroll);
    document.removeEventListener("visibilitychange", this.onVisible);
    clearTimeout(this.gapTimer);
    clearTimeout(this.readTimer);
  }

  // Called once the socket is up, and again after every reconnect.
  async connected() {
    if (this.closed) return;
    if (!this.opened) await this.open(); else await this.catchUp();
    await this.flushOutbox();
  }

  async open() {
    const ack = await this.adapter.join(undefined);
    if (this.closed) return;
    if (!ack.ok) { this.failJoin(ack); return; }
    this.opened = true;
    this.applyLatest(ack.data);
  }

  failJoin(ack) {
    if (ack.offline) return;  // the next connect retries
    this.timeline.setTop("");
    if (["paid_required", "forbidden", "not_member", "not_found"].includes(ack.error?.code)) this.hooks.onLocked?.(ack.error);
    else this.hooks.onError?.(ack.error);
  }

  // A join without since_seq: the latest page replaces whatever we had.
  applyLatest(data) {
    this.timeline.clear();
    this.messages.clear();
    this.seqById.clear();
    const msgs = data.messages || [];
    const meta = data.channel || data.conversation || {};
    this.hooks.onMeta?.(data);
    for (const m of msgs) this.store(m);
    this.lastSeq = this.maxSeq = msgs.length ? msgs[msgs.length - 1].seq : (meta.last_seq || 0);
    this.oldestSeq = msgs.length ? msgs[0].seq : this.lastSeq + 1;
    this.hasMore = this.oldestSeq > 1;
    if (meta.last_read_seq !== undefined) this.lastReadSeq = Math.max(this.lastReadSeq, meta.last_read_seq);
    this.timeline.setTop(this.hasMore ? "more" : "start");
    this.timeline.scrollToBottom();
    this.fillViewport();
    this.maybeMarkRead();
  }

  async catchUp() {
    if (this.catching) { this.catchAgain = true; return; }
    this.catching = true;
    try {
      do {
        this.catchAgain = false;
        const ack = await this.adapter.join(this.lastSeq);
        if (this.closed) return;
        if (!ack.ok) { this.failJoin(ack); return; }
        if (ack.data.resync) { this.applyLatest(await this.latestByRest(ack.data)); continue; }
        this.hooks.onMeta?.(ack.data);
        for (const m of ack.data.messages || []) this.insert(m);
      } while (this.catchAgain);
    } finally {
      this.catching = false;
    }
  }

  // Too far behind for a catch-up: reload the newest page of history by REST.
  async latestByRest(joinData) {
    const page = await this.adapter.history({});
    return { ...joinData, messages: page.messages || [] };
  }

  store(msg) {
    const follow = this.timeline.atBottom();
    this.messages.set(msg.seq, msg);
    this.seqById.set(msg.id, msg.seq);
    this.timeline.upsert(msg);
    if (follow) this.timeline.scrollToBottom();  // a grown message (reactions, edit) stays in view
  }

  // A live or caught-up message: dedupe by seq, advance lastSeq over what is now contiguous.
  insert(msg) {
    if (!msg || !(msg.seq > 0) || this.closed) return;
    const follow = this.timeline.atBottom() || msg.author?.id === me.id;
    if (msg.author?.id === me.id && this.outbox.has(msg.client_msg_id)) {
      this.outbox.delete(msg.client_msg_id);
      this.timeline.dropPending(msg.client_msg_id);
    }
    if (msg.seq < this.oldestSeq && this.hasMore) return;  // older than what we show
    this.store(msg);
    this.maxSeq = Math.max(this.maxSeq, msg.seq);
    while (this.messages.has(this.lastSeq + 1)) this.lastSeq += 1;
    if (this.maxSeq > this.lastSeq) this.scheduleGapCheck();
    if (follow) this.timeline.scrollToBottom();
    this.hooks.onSeq?.(this.lastSeq);
    this.maybeMarkRead();
  }

  receive(msg) {
    if (this.adapter.matches(msg)) this.insert(msg);
  }

  // The stream moved on (channel_activity) beyond what we hold: maybe an event was lost.
  noteLastSeq(seq) {
    if (seq > this.maxSeq) { this.maxSeq = seq; this.scheduleGapCheck(GAP_WAIT_MS * 2); }
  }

  scheduleGapCheck(wait = GAP_WAIT_MS) {
    clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(() => {
      if (this.maxSeq > this.lastSeq && socket.connected) this.catchUp();
    }, wait);
  }

  update(msg) {
    if (!this.adapter.matches(msg) || !this.messages.has(msg.seq)) return;
    this.store(msg);
  }

  updateReactions(messageId, reactions) {
    const msg = this.messages.get(this.seqById.get(messageId));
    if (!msg) return;
    this.store({ ...msg, reactions });
  }

  async maybeLoadOlder() {
    if (!this.hasMore || this.loadingOlder || this.timeline.root.scrollTop > 150) return;
    this.loadingOlder = true;
    this.timeline.setTop("loading");
    try {
      const page = await this.adapter.history({ before_seq: this.oldestSeq });
      const older = (page.messages || []).filter((m) => m.seq < this.oldestSeq);
      for (const m of older) { this.messages.set(m.seq, m); this.seqById.set(m.id, m.seq); }
      this.timeline.prependPage(older);
      if (older.length) this.oldestSeq = older[0].seq;
      this.hasMore = Boolean(page.has_more) && older.length > 0;
    } catch (err) {
      this.hooks.onError?.({ message: err.message });
    } finally {
      this.loadingOlder = false;
      this.timeline.setTop(this.hasMore ? "more" : "start");
    }
    this.fillViewport();
  }

  // A short history should not leave the reader without a scrollbar to pull more with.
  fillViewport() {
    const r = this.timeline.root;
    if (this.hasMore && r.scrollHeight <= r.clientHeight + 150) setTimeout(() => this.maybeLoadOlder(), 0);
  }

  maybeMarkRead() {
    if (!this.opened || document.hidden || !this.timeline.atBottom()) return;
    if (this.lastSeq <= this.lastReadSeq || this.readInFlight) return;
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(async () => {
      const seq = this.lastSeq;
      this.readInFlight = true;
      const ack = await this.adapter.markRead(seq);
      this.readInFlight = false;
      if (ack.ok) {
        this.lastReadSeq = Math.max(this.lastReadSeq, ack.data?.last_read_seq ?? seq);
        this.hooks.onRead?.(ack.data || { last_read_seq: seq, unread: 0 });
        if (this.lastSeq > this.lastReadSeq) this.maybeMarkRead();
      }
    }, 250);
  }

  // --- sending --------------------------------------------------------------------------------

  send(content) {
    const item = { clientId: uuid(), content, status: "sending", error: null };
    this.outbox.set(item.clientId, item);
    this.timeline.showPending(item);
    this.timeline.scrollToBottom();
    this.deliver(item);
  }

  async deliver(item) {
    if (item.inFlight || this.closed) return;
    item.inFlight = true;
    const ack = await this.adapter.send(item.content, item.clientId);
    item.inFlight = false;
    if (!this.outbox.has(item.clientId)) return;  // the echo came first
    if (ack.ok) {
      this.outbox.delete(item.clientId);
      this.timeline.dropPending(item.clientId);
      this.insert(ack.data.message);
    } else if (ack.offline) {
      // Stays pending; connected() resends it with the same id. An ack lost while still
      // connected gets one more try here.
      if (socket.connected) setTimeout(() => this.deliver(item), 2000);
    } else {
      item.status = "failed";
      item.error = ack.error;
      this.timeline.showPending(item);
      this.hooks.onError?.(ack.error);
    }
  }

  async flushOutbox() {
    for (const item of [...this.outbox.values()]) {
      if (item.status === "sending") await this.deliver(item);  // in order
    }
  }

  retry(item) {
    item.status = "sending";
    item.error = null;
    this.timeline.showPending(item);
    this.deliver(item);
  }

  discard(item) {
    this.outbox.delete(item.clientId);
    this.timeline.dropPending(item.clientId);
  }

  // --- message actions ------------------------------------------------------------------------

  async react(msg, emoji) {
    const ack = await call("react", { message_id: msg.id, emoji });
    if (ack.ok) this.updateReactions(msg.id, ack.data.reactions);
    else this.hooks.onError?.(ack.error);
  }

  async remove(msg) {
    if (!confirm(t("Delete this message? This cannot be undone."))) return;
    const ack = await call("delete_message", { message_id: msg.id });
    if (ack.ok) this.store(ack.data.message);
    else this.hooks.onError?.(ack.error);
  }

  startEdit(msg) {
    const el = this.timeline.bySeq.get(msg.seq);
    const content = el?.querySelector(".content");
    if (!content) return;
    const box = document.createElement("textarea");
    box.className = "edit-box";
    box.dataset.testid = "edit-input";
    box.value = msg.content;
    box.rows = Math.min(8, msg.content.split("\n").length + 1);
    const hint = document.createElement("div");
    hint.className = "hint small";
    hint.textContent = t("Enter to save · Esc to cancel");
    content.replaceWith(box, hint);
    box.focus();
    const cancel = () => this.store(this.messages.get(msg.seq));
    box.addEventListener("keydown", async (ev) => {
      if (ev.key === "Escape") { ev.preventDefault(); cancel(); }
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        const text = box.value.trim();
        if (!text || text === msg.content) { cancel(); return; }
        const ack = await call("edit_message", { message_id: msg.id, content: text });
        if (ack.ok) this.store(ack.data.message);
        else this.hooks.onError?.(ack.error);
      }
    });
  }
}
