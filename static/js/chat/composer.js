// The message composer: Enter sends, Shift+Enter breaks the line, 4,000 characters, typing pings.
import { number, t } from "../i18n.js";
import { h } from "../ui.js";

export const MAX_CHARS = 4000;
const TYPING_EVERY_MS = 3000;  // the server broadcasts at most one typing event per 3 s anyway

export class Composer {
  constructor(wrap, { placeholder, onSend, onTyping }) {
    this.onSend = onSend;
    this.onTyping = onTyping;
    this.lastTyping = 0;
    this.notice = h("div", { class: "composer-notice", "data-testid": "composer-notice", role: "alert", hidden: true });
    this.typing = h("div", { class: "typing", "data-testid": "typing", "aria-live": "polite" });
    this.input = h("textarea", {
      class: "composer-input", "data-testid": "composer-input", rows: "1",
      placeholder, "aria-label": placeholder,
    });
    this.counter = h("span", { class: "counter", "data-testid": "char-count" });
    this.sendBtn = h("button", { type: "submit", class: "send", "data-testid": "send", title: t("Send (Enter)") }, t("Send"));
    this.form = h("form", { class: "composer", onsubmit: (ev) => { ev.preventDefault(); this.submit(); } },
      this.input, this.sendBtn);
    this.meta = h("div", { class: "composer-meta" },
      h("span", { class: "hint" }, t("**bold**  *italic*  `code`  > quote · Shift+Enter for a new line")),
      h("span", { class: "slow-hint", "data-testid": "slow-hint" }),
      this.counter);
    wrap.replaceChildren(this.notice, this.form, this.meta, this.typing);
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); this.submit(); }
    });
    this.input.addEventListener("input", () => { this.refresh(); this.pingTyping(); });
    this.refresh();
  }

  refresh() {
    const n = this.input.value.length;
    this.counter.textContent = n ? `${number(n)} / ${number(MAX_CHARS)}` : "";
    this.counter.classList.toggle("over", n > MAX_CHARS);
    this.counter.classList.toggle("near", n > MAX_CHARS * 0.9);
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 240)}px`;
  }

  pingTyping() {
    const now = Date.now();
    if (!this.input.value.trim() || now - this.lastTyping < TYPING_EVERY_MS) return;
    this.lastTyping = now;
    this.onTyping?.();
  }

  submit() {
    if (this.input.disabled) return;
    const text = this.input.value.trim();
    if (!text) return;
    if (text.length > MAX_CHARS) {
      this.showError(t("Your message is {count} characters: the limit is {max}.", { count: number(text.length), max: number(MAX_CHARS) }));
      return;
    }
    this.clearError();
    this.input.value = "";
    this.lastTyping = 0;
    this.refresh();
    this.onSend(text);
  }

  // A reason the person cannot write here at all (announcements, timeout, locked, blocked).
  setDisabled(reason) {
    this.input.disabled = Boolean(reason);
    this.sendBtn.disabled = Boolean(reason);
    this.form.classList.toggle("disabled", Boolean(reason));
    this.input.placeholder = reason ? t("You cannot send messages here") : this.input.getAttribute("aria-label");
    if (reason) this.showNotice(reason, "info"); else if (this.notice.dataset.kind === "info") this.clearError();
  }

  showNotice(text, kind) {
    this.notice.textContent = text;
    this.notice.dataset.kind = kind;
    this.notice.hidden = false;
  }

  showError(text) {
    if (this.input.disabled) return;  // the standing reason says it already
    this.showNotice(text, "error");
    clearTimeout(this.errTimer);
    this.errTimer = setTimeout(() => this.clearError(), 12000);
  }

  clearError() {
    if (this.input.disabled) return;
    this.notice.hidden = true;
    this.notice.dataset.kind = "";
  }

  setSlowMode(seconds) {
    this.meta.querySelector(".slow-hint").textContent = seconds ? t("Slow mode: one message every {seconds} s", { seconds }) : "";
  }

  focus() { if (!this.input.disabled) this.input.focus(); }
}

// "Ana is typing…": people expire after the server's expires_in_ms unless they ping again.
export class TypingIndicator {
  constructor(el) {
    this.el = el;
    this.people = new Map();  // user id -> {name, until}
  }

  add(user, ms = 5000) {
    this.people.set(user.id, { name: user.display_name, until: Date.now() + ms });
    this.render();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.render(), ms + 50);
  }

  remove(userId) {
    if (this.people.delete(userId)) this.render();
  }

  render() {
    const now = Date.now();
    for (const [id, p] of this.people) if (p.until <= now) this.people.delete(id);
    const names = [...this.people.values()].map((p) => p.name);
    let text = "";
    if (names.length === 1) text = t("{name} is typing…", { name: names[0] });
    else if (names.length === 2) text = t("{first} and {second} are typing…", { first: names[0], second: names[1] });
    else if (names.length > 2) text = t("Several people are typing…");
    this.el.textContent = text;
    if (this.people.size) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.render(), Math.min(...[...this.people.values()].map((p) => p.until)) - now + 50);
    }
  }
}
