// The guild rail (my guilds) and the channel list by category, with unread badges.
import { t, tn } from "../i18n.js";
import { icon } from "../icons.js";
import { h, hue, initials } from "../ui.js";

export function renderRail(rail, guilds, currentSlug, activity) {
  const mine = guilds.filter((g) => g.is_member);
  rail.replaceChildren(
    ...mine.map((g) => h("a", {
      href: `/g/${encodeURIComponent(g.slug)}`, class: `rail-guild${g.slug === currentSlug ? " active" : ""}`,
      title: g.name, "data-testid": "rail-guild", dataset: { slug: g.slug },
      style: `--h:${hue(g.id)}`,
    }, initials(g.name), activity.has(g.id) && g.slug !== currentSlug ? h("span", { class: "dot" }) : null)),
    h("span", { class: "rail-sep" }),
    h("a", { href: "/home", class: "rail-guild add", title: t("Browse guilds"), "aria-label": t("Browse guilds") }, icon("plus", 22)),
    h("a", { href: "/dms", class: "rail-guild dm", title: t("Direct messages"), "aria-label": t("Direct messages"), "data-testid": "rail-dms" }, icon("mail", 20)),
  );
}

function channelIcon(ch) {
  if (!ch.can_read) return icon("lock");
  return icon(ch.kind === "announcement" ? "megaphone" : "hash");
}

function channelRow(ch, currentId, onPick) {
  const unread = ch.id === currentId ? 0 : ch.unread || 0;
  return h("button", {
    type: "button", class: `chan${ch.id === currentId ? " active" : ""}${unread ? " unread" : ""}${ch.can_read ? "" : " locked"}`,
    "data-testid": "channel", dataset: { channelId: ch.id, name: ch.name },
    "aria-current": ch.id === currentId ? "page" : undefined,
    onclick: () => onPick(ch),
  },
  h("span", { class: "chan-icon", "aria-hidden": "true" }, channelIcon(ch)),
  h("span", { class: "chan-name" }, ch.name),
  ch.mentioned && ch.id !== currentId ? h("span", { class: "badge mention", title: t("You were mentioned") }, "@") : null,
  unread ? h("span", { class: "badge unread", "data-testid": "unread-badge", title: tn("{n} unread", "{n} unread", unread) }, unread > 99 ? "99+" : String(unread)) : null);
}

export function renderChannels(root, categories, currentId, onPick) {
  const sorted = [...categories].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  root.replaceChildren(...sorted.map((cat) => h("section", { class: "category", dataset: { categoryId: cat.id ?? "" } },
    cat.name ? h("h3", { class: "category-name" }, cat.name) : null,
    [...(cat.channels || [])].sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
      .map((ch) => channelRow(ch, currentId, onPick)))));
}
