// Seller page: catalog (products, plans, buttons with their snippet) and refund decisions.
import { api, showError, toast } from "./api.js";
import { lang, t, tn } from "./i18n.js";
import { el, money } from "./ui.js";

const INTERVAL = { MONTHLY: t("monthly"), QUARTERLY: t("quarterly"), ANNUALLY: t("yearly"),
  ONE_TIME: t("one-time"), LIFETIME: t("lifetime") };

const errorEl = document.getElementById("owner-error");

const percent = (n) => new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 2 }).format(Number(n) / 100);

function fail(err) { showError(errorEl, err); }

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function cents(text) {
  // Integer cents from "29", "29.5" or "29,50": no floating point on money.
  const m = String(text).trim().replace(",", ".").match(/^(\d+)(?:\.(\d{1,2}))?$/);
  if (!m) throw new Error(t("Price: a number with at most 2 decimals"));
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

async function load() {
  errorEl.hidden = true;
  const [products, plans, buttons, refunds, guilds] = await Promise.all([
    api("GET", "/api/owner/products"), api("GET", "/api/owner/plans"),
    api("GET", "/api/owner/payment-buttons"), api("GET", "/api/owner/refunds?status=pending"),
    api("GET", "/api/guilds"),
  ]);
  const productName = new Map(products.map((p) => [p.id, p.name]));
  document.getElementById("guild-select").replaceChildren(
    el("option", { value: "", textContent: t("No community") }),
    ...guilds.map((g) => el("option", { value: g.id, textContent: g.name })));
  document.getElementById("products").replaceChildren(...products.map((p) => el("li", {},
    el("strong", { textContent: p.name }), ` ${p.active ? "" : `${t("(inactive)")} `}`,
    el("span", { className: "muted small", textContent: p.stripe_product_id ? `Stripe ${p.stripe_product_id}` : t("syncing to Stripe…") }))));
  document.getElementById("plan-product").replaceChildren(
    ...products.map((p) => el("option", { value: p.id, textContent: p.name })));
  document.getElementById("plans").replaceChildren(...plans.map((p) => el("li", {},
    el("strong", { textContent: `${productName.get(p.product_id)} · ${p.name}` }),
    ` ${money(p.price_cents, p.currency)} ${INTERVAL[p.interval] || p.interval.toLowerCase()}`,
    p.trial_days ? `, ${tn("{n} day trial", "{n} days trial", p.trial_days)}` : "",
    ` · ${t("{percent} commission", { percent: percent(p.commission_percent) })}`)));
  document.getElementById("button-plan").replaceChildren(...plans.filter((p) => p.active).map(
    (p) => el("option", { value: p.id, textContent: `${productName.get(p.product_id)} · ${p.name}` })));
  document.getElementById("buttons").replaceChildren(...buttons.map((b) => el("li", {},
    el("strong", { textContent: b.display_name }), " ",
    el("a", { href: `/pay/${b.button_key}`, textContent: t("open") }),
    el("pre", { className: "snippet", textContent: b.snippet, title: t("Paste on your landing page") }))));
  document.getElementById("refunds").replaceChildren(...(refunds.length ? refunds.map(refundRow)
    : [el("li", { className: "muted", textContent: t("No pending request.") })]));
}

function refundRow(r) {
  const approve = el("button", { className: "button small-solid", textContent: t("Approve") });
  const reject = el("button", { className: "link-dark", textContent: t("Reject") });
  approve.onclick = () => decide(`/api/owner/refunds/${r.id}/approve`);
  reject.onclick = () => {
    const reason = prompt(t("Why is it rejected? The customer sees this."));
    if (reason !== null) decide(`/api/owner/refunds/${r.id}/reject`, { reason });
  };
  return el("li", { "data-testid": "refund" }, `#${r.id} · ${money(r.amount_cents, r.currency)} · “${r.reason}” `, approve, " ", reject);
}

async function decide(path, body) {
  try { await api("POST", path, body); toast(t("Done.")); await load(); } catch (err) { fail(err); }
}

function onSubmit(id, build, path) {
  document.getElementById(id).addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", path, build(formData(ev.target)));
      ev.target.reset();
      await load();
    } catch (err) { err instanceof Error && !err.status ? (errorEl.textContent = err.message, errorEl.hidden = false) : fail(err); }
  });
}

onSubmit("product-form", (d) => ({ name: d.name, description: d.description,
  guild_id: d.guild_id ? Number(d.guild_id) : null }), "/api/owner/products");
onSubmit("plan-form", (d) => ({ product_id: Number(d.product_id), name: d.name, price_cents: cents(d.price),
  currency: d.currency, interval: d.interval, trial_days: Number(d.trial_days || 0) }), "/api/owner/plans");
onSubmit("button-form", (d) => ({ plan_id: Number(d.plan_id), display_name: d.display_name,
  cta_text: d.cta_text || t("Join now"), success_url: d.success_url, cancel_url: d.cancel_url }),
  "/api/owner/payment-buttons");

load().catch(fail);
