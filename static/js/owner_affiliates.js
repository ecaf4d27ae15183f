// Owner's affiliates page: every affiliate's balances and counts; one affiliate's commissions,
// customers and risk level (edited with notes; the server keeps the audit trail).
import { api, showError, toast } from "./api.js";
import { dateTimeFmt, number, t } from "./i18n.js";
import { day, el, money } from "./ui.js";

const errorEl = document.getElementById("oa-error");
const td = (text) => el("td", { textContent: text });
const RISK = { NORMAL: t("Normal"), AT_RISK: t("At risk"), HIGH_RISK: t("High risk"), EXTREME_RISK: t("Extreme risk") };
const riskName = (level) => RISK[level] || level;
const STATUS = { PENDING_LOCK: t("Locked"), PARTIALLY_MATURED: t("Partly unlocked"), MATURED: t("Available"),
  PAID: t("Paid"), CLAWED_BACK: t("Clawed back"), FROZEN: t("Frozen") };
const SOURCE = { link: t("Referral link"), free_product: t("Free product") };
let selected = null;

function affiliateRow(a) {
  const row = el("tr", { "data-testid": "affiliate-row", className: a.id === selected ? "selected" : "" },
    el("td", {}, el("strong", { textContent: a.display_name || a.email }), el("div", { className: "muted small", textContent: `${a.email} · ${a.slug}` })),
    el("td", { className: `risk-${a.risk_level}`, textContent: riskName(a.risk_level), "data-testid": "risk", "data-level": a.risk_level }),
    td(number(a.clicks)), td(number(a.customers)), td(number(a.commissions)), td(money(a.locked_cents)),
    td(money(a.available_cents)), td(money(a.paid_cents)), td(money(a.debt_cents)));
  row.addEventListener("click", () => { selected = a.id; load(); });
  return row;
}

async function load() {
  try {
    const list = await api("GET", "/api/owner/affiliates");
    document.getElementById("affiliates").replaceChildren(...(list.length ? list.map(affiliateRow)
      : [el("tr", {}, el("td", { colSpan: 9, className: "muted", textContent: t("No affiliate yet.") }))]));
    if (selected) await loadDetail(selected);
  } catch (err) { showError(errorEl, err); }
}

async function loadDetail(id) {
  const [d, risk] = await Promise.all([
    api("GET", `/api/owner/affiliates/${id}`), api("GET", `/api/owner/affiliates/${id}/risk`)]);
  document.getElementById("risk-history").replaceChildren(...risk.history.map((h) => el("li", {},
    `${dateTimeFmt.format(new Date(h.created_at))} · ${riskName(h.old_level)} → ${riskName(h.new_level)}${h.notes ? ` · “${h.notes}”` : ""}`)));
  const a = d.affiliate;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-title").textContent = `${a.display_name || a.email} (${a.slug})`;
  document.getElementById("risk-level").value = a.risk_level;
  document.getElementById("risk-notes").value = a.risk_notes;
  document.getElementById("detail-commissions").replaceChildren(...d.commissions.map((c) => el("tr", {},
    td(day(c.created_at)), td(c.customer_email),
    el("td", {}, c.product_name, c.from_free_product ? el("span", { className: "badge", textContent: t("free product") }) : ""),
    td(money(c.amount_cents)), td(STATUS[c.status] || c.status), td(day(c.unlock_at)))));
  document.getElementById("detail-customers").replaceChildren(...d.customers.map((c) => el("tr", {},
    td(c.email), td(SOURCE[c.source] || c.source || "–"), td(day(c.attributed_at)), td(day(c.expires_at)), td(number(c.purchases)),
    td(c.active ? t("yes") : t("no")))));
}

document.getElementById("risk-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!selected) return;
  const form = new FormData(ev.target);
  try {
    await api("PATCH", `/api/owner/affiliates/${selected}/risk`,
      { risk_level: form.get("risk_level"), notes: form.get("notes") });
    toast(t("Risk level saved."));
    await load();
  } catch (err) { showError(errorEl, err); }
});

load();
