// /choose-guild and /home: the platform's guilds; join, pick a primary guild (WEOKTO), open one.
import { api, ApiError, toast } from "./api.js";
import { errorText } from "./chat/errors.js";
import { t, tn } from "./i18n.js";
import { fmtDateTime, h, hue, initials } from "./ui.js";

const list = document.getElementById("guild-list");
const errorEl = document.getElementById("guild-error");
const choosing = list.dataset.mode === "choose";
const isWeokto = document.documentElement.dataset.platform === "weokto";
const ROLES = { owner: t("owner"), admin: t("admin"), moderator: t("moderator"), member: t("member") };
const roleName = (role) => ROLES[role] || role;
const open = (g) => location.assign(`/g/${encodeURIComponent(g.slug)}`);

function showError(text) {
  errorEl.textContent = text;
  errorEl.hidden = false;
}

function explain(err) {
  if (err instanceof ApiError && err.code === "primary_guild_locked") {
    const when = err.details?.available_at;
    return when ? t("You changed your primary guild less than 30 days ago. You can pick another one on {date}.", { date: fmtDateTime(when) })
      : t("You changed your primary guild less than 30 days ago. You can pick another one later.");
  }
  if (err instanceof ApiError) return errorText({ code: err.code, message: err.message, details: err.details });
  return t("Network error, try again.");
}

// Join (if needed), make primary (when choosing), then open the guild.
async function enter(g, { primary }, button) {
  errorEl.hidden = true;
  button.disabled = true;
  try {
    if (!g.is_member) { await api("POST", `/api/guilds/${encodeURIComponent(g.slug)}/join`); g.is_member = true; }
    if (primary) await api("POST", `/api/guilds/${encodeURIComponent(g.slug)}/primary`);
    open(g);
  } catch (err) {
    showError(explain(err));
    button.disabled = false;
    if (g.is_member) render(guilds);  // joined but not primary: show "Open"
  }
}

function card(g) {
  const actions = [];
  if (choosing && isWeokto) {
    actions.push(h("button", { type: "button", class: "button", "data-testid": "btn-choose",
      onclick: (ev) => enter(g, { primary: true }, ev.currentTarget) }, g.is_member ? t("Make primary") : t("Join & make primary")));
    if (g.is_member) actions.push(h("button", { type: "button", class: "button ghost", "data-testid": "btn-open", onclick: () => open(g) }, t("Open")));
  } else if (g.is_member) {
    actions.push(h("button", { type: "button", class: "button", "data-testid": "btn-open", onclick: () => open(g) }, t("Open")));
  } else {
    actions.push(h("button", { type: "button", class: "button", "data-testid": "btn-join",
      onclick: (ev) => enter(g, { primary: false }, ev.currentTarget) }, t("Join")));
  }
  return h("article", { class: `guild-card${g.is_member ? " member" : ""}`, "data-testid": "guild-card", dataset: { slug: g.slug } },
    g.banner_url ? h("img", { class: "guild-banner", src: g.banner_url, alt: "" })
      : h("div", { class: "guild-banner blank", style: `--h:${hue(g.id)}` }, initials(g.name)),
    h("div", { class: "guild-info" },
      h("h3", {}, g.name, g.tier && g.tier !== "free" ? h("span", { class: "tier" }, g.tier) : null),
      h("p", { class: "muted small" }, g.description || ""),
      h("p", { class: "small" }, tn("{n} member", "{n} members", g.member_count ?? 0),
        g.is_member ? h("span", { class: "you" }, ` · ${g.my_role ? t("you: {role}", { role: roleName(g.my_role) }) : t("joined")}`) : null)),
    h("div", { class: "guild-actions" }, actions));
}

let guilds = [];
function render(items) {
  list.removeAttribute("aria-busy");
  if (!items.length) {
    list.replaceChildren(h("p", { class: "placeholder" }, t("No guild is open yet. Come back soon.")));
    return;
  }
  const sorted = [...items].sort((a, b) => Number(b.is_member) - Number(a.is_member) || (b.member_count || 0) - (a.member_count || 0));
  list.replaceChildren(...sorted.map(card));
}

api("GET", "/api/guilds").then((items) => { guilds = items; render(items); }).catch((err) => {
  list.removeAttribute("aria-busy");
  list.replaceChildren();
  showError(err instanceof ApiError && err.status === 404 ? t("Guilds are not available yet.") : explain(err));
  toast(t("Could not load guilds"));
});
