// The member list with live presence, grouped online / offline.
import { t } from "../i18n.js";
import { icon } from "../icons.js";
import { h, hue, initials } from "../ui.js";

const ROLE_LABEL = { owner: t("Owner"), admin: t("Admin"), moderator: t("Mod") };

export function timedOut(member) {
  return Boolean(member?.timeout_until) && Date.parse(member.timeout_until) > Date.now();
}

function row(m, onPick) {
  return h("button", {
    type: "button", class: `member${m.online ? " online" : ""}`, "data-testid": "member",
    dataset: { userId: m.user_id, online: String(Boolean(m.online)) }, onclick: () => onPick(m),
  },
  h("span", { class: "avatar small", style: `--h:${hue(m.user_id)}` }, initials(m.display_name),
    h("span", { class: "presence", "data-testid": "presence", title: m.online ? t("Online") : t("Offline") })),
  h("span", { class: "member-name" }, m.display_name),
  ROLE_LABEL[m.role] ? h("span", { class: `role-badge ${m.role}` }, ROLE_LABEL[m.role]) : null,
  timedOut(m) ? h("span", { class: "timeout-mark", title: t("Timed out"), "data-testid": "timed-out-mark" }, icon("clock", 14)) : null);
}

export function renderMembers(root, members, onPick) {
  const all = [...members.values()].sort((a, b) => a.display_name.localeCompare(b.display_name));
  const online = all.filter((m) => m.online);
  const offline = all.filter((m) => !m.online);
  root.replaceChildren(
    h("h3", { class: "category-name" }, t("Online — {n}", { n: online.length })),
    ...online.map((m) => row(m, onPick)),
    h("h3", { class: "category-name" }, t("Offline — {n}", { n: offline.length })),
    ...offline.map((m) => row(m, onPick)),
  );
}
