// Moderator tools: member actions (timeout, kick, ban), channel slow mode, the audit log.
import { api, ApiError } from "../api.js";
import { errorText } from "../chat/errors.js";
import { t } from "../i18n.js";
import { fmtDateTime, fmtDuration, h, openDialog } from "../ui.js";
import { timedOut } from "./members.js";

export const TIMEOUTS = [
  [60, t("60 seconds")], [300, t("5 minutes")], [600, t("10 minutes")], [3600, t("1 hour")],
  [86400, t("1 day")], [604800, t("1 week")], [2419200, t("28 days")],
];
export const SLOW_MODES = [[0, t("Off")],
  ...[5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600].map((s) => [s, fmtDuration(s)])];
const ACTIONS = { timeout: t("timeout"), timeout_lifted: t("timeout lifted"), kick: t("kick"), ban: t("ban"),
  unban: t("unban"), leave: t("left"), delete_message: t("message deleted"),
  slow_mode: t("slow mode"), paid_access_granted: t("paid access granted"), paid_access_revoked: t("paid access revoked"),
  role_changed: t("role changed") };
const ROLES = { owner: t("owner"), admin: t("admin"), moderator: t("moderator"), member: t("member") };

function select(name, options, value, testid) {
  return h("select", { name, "data-testid": testid },
    options.map(([v, label]) => h("option", { value: String(v), selected: v === value }, label)));
}

function apiErrorText(err) {
  return err instanceof ApiError ? errorText({ code: err.code, message: err.message, details: err.details })
    : t("Network error, try again.");
}

// Runs `fn`; shows its error inside the dialog instead of closing it.
async function guarded(errorEl, fn) {
  errorEl.hidden = true;
  try { return await fn(); } catch (err) {
    errorEl.textContent = apiErrorText(err);
    errorEl.hidden = false;
    return undefined;
  }
}

export function memberDialog(member, { slug, isModerator, isOwner, isMe, onDone }) {
  const base = `/api/guilds/${encodeURIComponent(slug)}/members/${member.user_id}`;
  return openDialog(member.display_name, (close) => {
    const error = h("p", { class: "error", role: "alert", hidden: true, "data-testid": "mod-error" });
    const reason = h("input", { name: "reason", placeholder: t("Reason (shown in the audit log)"), "aria-label": t("Reason"), maxlength: "500", "data-testid": "mod-reason" });
    const duration = select("seconds", TIMEOUTS, 600, "timeout-duration");
    const act = (method, path, body, label) => guarded(error, async () => {
      await api(method, path, body);
      onDone?.(label);
      close(label);
    });
    const modTools = isModerator && !isMe && member.role !== "owner";
    // The owner names moderators; a moderator made member again loses the paid channels they
    // read by role (the server takes their sockets out of those rooms).
    const promote = member.role === "member";
    const roleTool = isOwner && !isMe && member.role !== "owner"
      ? h("button", { type: "button", class: "button ghost", "data-testid": "btn-role",
        onclick: () => act("POST", `${base}/role`, { role: promote ? "moderator" : "member" }, "role") },
      promote ? t("Make moderator") : t("Remove moderator role"))
      : null;
    return [
      h("p", { class: "muted" }, `${member.online ? t("Online") : t("Offline")} · ${ROLES[member.role] || member.role}`,
        timedOut(member) ? ` · ${t("timed out until {date}", { date: fmtDateTime(member.timeout_until) })}` : ""),
      isMe ? null : h("a", { class: "button small-inline", href: `/dms?${new URLSearchParams({ user: member.user_id, name: member.display_name })}`, "data-testid": "btn-message" }, t("Send a message")),
      modTools ? h("div", { class: "mod-tools", "data-testid": "mod-tools" },
        h("label", {}, t("Reason")), reason,
        h("div", { class: "mod-row" },
          h("label", {}, t("Timeout for")), duration,
          h("button", { type: "button", class: "button warn", "data-testid": "btn-timeout",
            onclick: () => act("POST", `${base}/timeout`, { seconds: Number(duration.value), reason: reason.value }, "timeout") }, t("Time out"))),
        timedOut(member) ? h("button", { type: "button", class: "button ghost", "data-testid": "btn-untimeout",
          onclick: () => act("POST", `${base}/timeout`, { seconds: 0, reason: reason.value }, "untimeout") }, t("Remove timeout")) : null,
        h("div", { class: "mod-row" },
          h("button", { type: "button", class: "button danger", "data-testid": "btn-kick",
            onclick: () => confirm(t("Kick {name}?", { name: member.display_name })) && act("POST", `${base}/kick`, { reason: reason.value }, "kick") }, t("Kick")),
          h("button", { type: "button", class: "button danger", "data-testid": "btn-ban",
            onclick: () => confirm(t("Ban {name}? They cannot join again until unbanned.", { name: member.display_name })) && act("POST", `${base}/ban`, { reason: reason.value }, "ban") }, t("Ban"))),
      ) : null,
      roleTool,
      error,
    ];
  }, { testid: "member-dialog" });
}

export function slowModeDialog(channel, onDone) {
  return openDialog(t("Slow mode in #{channel}", { channel: channel.name }), (close) => {
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const choice = select("slow_mode_s", SLOW_MODES, channel.slow_mode_s || 0, "slow-mode-select");
    return [
      h("p", { class: "muted" }, t("Members can send one message per interval. Moderators are not limited.")),
      choice,
      h("button", { type: "button", class: "button", "data-testid": "btn-save-slow",
        onclick: () => guarded(error, async () => {
          const updated = await api("PATCH", `/api/channels/${channel.id}`, { slow_mode_s: Number(choice.value) });
          onDone?.(updated);
          close(true);
        }) }, t("Save")),
      error,
    ];
  }, { testid: "slow-mode-dialog" });
}

function who(x, members) {
  if (x === null || x === undefined) return "—";
  if (typeof x === "object") return x.display_name || x.email || `#${x.id}`;
  return members.get(x)?.display_name || `#${x}`;
}

export function auditLogDialog(slug, members) {
  return openDialog(t("Audit log"), () => {
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const body = h("tbody");
    const more = h("button", { type: "button", class: "button ghost", hidden: true }, t("Load more"));
    let beforeId = null;
    const load = () => guarded(error, async () => {
      const q = new URLSearchParams({ limit: "50" });
      if (beforeId) q.set("before_id", String(beforeId));
      const res = await api("GET", `/api/guilds/${encodeURIComponent(slug)}/audit-log?${q}`);
      const rows = Array.isArray(res) ? res : (res.entries || res.items || []);
      for (const e of rows) {
        body.append(h("tr", { "data-testid": "audit-row" },
          h("td", { class: "nowrap" }, fmtDateTime(e.created_at)),
          h("td", {}, who(e.actor, members)),
          h("td", {}, ACTIONS[e.action] || h("code", {}, e.action)),
          h("td", {}, who(e.target, members)),
          h("td", {}, e.reason || "", e.details && Object.keys(e.details).length
            ? h("span", { class: "muted small" }, ` ${JSON.stringify(e.details)}`) : "")));
      }
      if (rows.length) beforeId = rows[rows.length - 1].id;
      more.hidden = rows.length < 50;
      if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: "5", class: "muted" }, t("Nothing yet."))));
    });
    more.addEventListener("click", load);
    load();
    return [h("table", { class: "audit" },
      h("thead", {}, h("tr", {}, [t("When"), t("Who"), t("Action"), t("Target"), t("Reason")].map((label) => h("th", {}, label)))), body),
    more, error];
  }, { testid: "audit-dialog" });
}
