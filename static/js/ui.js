// Small DOM and formatting helpers shared by the chat pages.
import { dateFmt, dateTimeFmt, money as localMoney, t, timeFmt } from "./i18n.js";

// h("div", {class: "x", onclick: fn, dataset: {seq: 1}}, "text", childNode, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "html") el.innerHTML = value;  // only for server-sanitized message html
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}


export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function fmtDateTime(iso) {
  return iso ? dateTimeFmt.format(new Date(iso)) : "";
}

export function fmtDuration(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  if (s < 60) return t("{n} s", { n: s });
  if (s < 3600) return t("{n} min", { n: Math.ceil(s / 60) });
  if (s < 86400) return t("{n} h", { n: (Math.round(s / 360) / 10).toLocaleString(document.documentElement.lang) });
  return t("{n} days", { n: (Math.round(s / 8640) / 10).toLocaleString(document.documentElement.lang) });
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/[\s@._-]+/).filter(Boolean);
  return ((parts[0]?.[0] || "?") + (parts[1]?.[0] || "")).toUpperCase();
}

// A stable hue per user, so avatars are told apart at a glance.
export function hue(id) {
  return (Number(id) * 137) % 360;
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

// A modal <dialog> built from content; resolves when closed. `build(close)` returns nodes.
export function openDialog(title, build, { testid } = {}) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", "data-testid": testid });
    const close = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    dialog.append(
      h("header", { class: "dialog-head" }, h("h3", {}, title),
        h("button", { type: "button", class: "icon", "aria-label": t("Close"), onclick: () => close(null) }, "✕")),
      h("div", { class: "dialog-body" }, build(close)),
    );
    dialog.addEventListener("cancel", (ev) => { ev.preventDefault(); close(null); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export const MOD_ROLES = new Set(["owner", "admin", "moderator"]);

// el("td", {textContent: "x", colSpan: 2, "data-testid": "y"}, child...): the seller and
// affiliate pages' builder; data-* are attributes, the rest DOM properties.
export function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  kids.forEach((k) => node.append(k));
  return node;
}

// Integer cents shown as an amount (display only: the cents stay integers everywhere else).
export function money(cents, currency = "eur") {
  return localMoney(cents, currency);
}

export function day(iso) {
  return iso ? dateFmt.format(new Date(iso)) : "–";
}
