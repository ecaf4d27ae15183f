// Affiliate dashboard: stats, commissions and payouts, refetched whenever the server pushes
// `affiliate_update` (a click, attribution, commission, maturation, clawback or payout) and on
// every (re)connect, so nothing missed while offline stays stale. The unlock countdown ticks here.
import { api, showError, toast } from "./api.js";
import { socket } from "./session.js";
import { number, t, timeFmt } from "./i18n.js";
import { day, el, money } from "./ui.js";

const root = document.getElementById("affiliate");
const errorEl = document.getElementById("affiliate-error");
const filters = document.getElementById("commission-filters");
const STATUS = { PENDING_LOCK: t("Locked"), PARTIALLY_MATURED: t("Partly unlocked"), MATURED: t("Available"),
  PAID: t("Paid"), CLAWED_BACK: t("Clawed back"), FROZEN: t("Frozen") };
const PAYOUT_METHOD = { bank_transfer: t("bank transfer"), paypal: "PayPal", stripe: "Stripe" };

let stats = null;

function flash(box) {
  box.classList.remove("flash");
  void box.offsetWidth; // restart the animation
  box.classList.add("flash");
}

function renderStats(next) {
  for (const node of root.querySelectorAll("[data-stat]")) {
    const key = node.dataset.stat;
    const text = "money" in node.dataset ? money(next[key], next.currency) : number(next[key]);
    if (node.textContent !== text && stats) flash(node.parentElement);
    node.textContent = text;
  }
  root.querySelector(".stat.debt").classList.toggle("owed", next.debt_cents > 0);
  document.getElementById("ref-link").value = next.referral_url;
  document.getElementById("stats-updated").textContent = t("Last change {time}.", { time: timeFmt.format(new Date()) });
  stats = next;
  tick();
}

function tick() {
  const out = document.getElementById("unlock-countdown");
  if (!stats?.next_unlock_at) { out.textContent = ""; return; }
  const left = Math.max(0, Math.floor((Date.parse(stats.next_unlock_at) - Date.now()) / 1000));
  if (left === 0) { out.textContent = t("unlocking…"); return; }
  const d = Math.floor(left / 86400);
  const hms = [Math.floor(left / 3600) % 24, Math.floor(left / 60) % 60, left % 60]
    .map((n) => String(n).padStart(2, "0")).join(":");
  out.textContent = d ? t("next unlock in {days} d {time}", { days: d, time: hms }) : t("next unlock in {time}", { time: hms });
}

function commissionRow(c) {
  return el("tr", { "data-testid": "commission" },
    el("td", { textContent: day(c.created_at) }), el("td", { textContent: c.customer_email }),
    el("td", {}, c.product_name, c.from_free_product ? el("span", { className: "badge", textContent: t("free product") }) : ""),
    el("td", { textContent: money(c.amount_cents) }), el("td", { textContent: STATUS[c.status] || c.status }),
    el("td", { textContent: c.unlock_at ? day(c.unlock_at) : "–" }));
}

function commissionQuery() {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(filters).entries()) {
    if (!v) continue;
    // Dates are the user's days: from the start of `since` to the end of `until`.
    if (k === "since") q.set(k, new Date(`${v}T00:00:00`).toISOString());
    else if (k === "until") q.set(k, new Date(new Date(`${v}T00:00:00`).getTime() + 86400000).toISOString());
    else q.set(k, v);
  }
  return q.toString();
}

async function loadLists() {
  const [commissions, payouts] = await Promise.all([
    api("GET", `/api/affiliate/commissions?${commissionQuery()}`), api("GET", "/api/affiliate/payouts"),
  ]);
  document.getElementById("commissions").replaceChildren(...(commissions.length ? commissions.map(commissionRow)
    : [el("tr", {}, el("td", { colSpan: 6, className: "muted", textContent: t("No commission yet.") }))]));
  document.getElementById("payouts").replaceChildren(...(payouts.length ? payouts.map((p) => el("li", { "data-testid": "payout" },
    `${day(p.created_at)} · ${money(p.amount_cents)} · ${PAYOUT_METHOD[p.method] || p.method}${p.reference ? ` · ${p.reference}` : ""}`))
    : [el("li", { className: "muted", textContent: t("No payout yet.") })]));
}

// One fetch at a time; events that arrive meanwhile make exactly one more.
let running = null;
let again = false;
async function refresh() {
  if (running) { again = true; return running; }
  running = (async () => {
    do {
      again = false;
      try {
        const next = await api("GET", "/api/affiliate/stats");
        errorEl.hidden = true;
        document.getElementById("affiliate-body").hidden = false;
        renderStats(next);
        await loadLists();
        root.dataset.state = "ready";
      } catch (err) {
        root.dataset.state = "error";
        showError(errorEl, err);
      }
    } while (again);
  })();
  try { await running; } finally { running = null; }
}

document.getElementById("copy-link").addEventListener("click", async () => {
  const input = document.getElementById("ref-link");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    document.execCommand("copy"); // plain-HTTP pages have no async clipboard
  }
  toast(t("Referral link copied."));
});
filters.addEventListener("change", () => loadLists().catch((err) => showError(errorEl, err)));
socket.on("affiliate_update", () => refresh());
socket.on("connect", () => refresh());
setInterval(tick, 1000);
refresh();
