// The page's language for JavaScript: translated strings from the catalog base.html embeds
// (the `js` gettext domain, msgid -> msgstr, or a list of plural forms), and Intl formatters for
// the language the page is shown in (<html lang>).
//
// t(msgid, {name}) and tn(singular, plural, n) are the calls babel.cfg extracts (static/js/**):
// their message arguments must be string literals; placeholders are written {name}.

export const lang = document.documentElement.lang || "fr";

const catalog = (() => {
  try {
    return JSON.parse(document.getElementById("i18n-catalog")?.textContent || "{}");
  } catch {
    return {};  // a broken catalog shows the source strings rather than a broken page
  }
})();

const plurals = new Intl.PluralRules(lang);
// gettext plural forms follow CLDR's category order (Babel writes the catalogs' Plural-Forms
// from CLDR: French has one, many, other), so a category's index among the language's
// categories in that order is its form's index.
const ORDER = ["zero", "one", "two", "few", "many", "other"];
const categories = plurals.resolvedOptions().pluralCategories.sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));

function fill(text, params) {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? String(params[key]) : whole));
}

export function t(msgid, params) {
  const found = catalog[msgid];
  return fill(typeof found === "string" && found ? found : msgid, params);
}

export function tn(singular, plural, n, params) {
  const category = plurals.select(n);
  const forms = catalog[singular];
  const form = Array.isArray(forms) ? forms[Math.min(categories.indexOf(category), forms.length - 1)] : "";
  return fill(form || (category === "one" ? singular : plural), { n: number(n), ...params });
}

const numberFmt = new Intl.NumberFormat(lang);
export function number(n) {
  return numberFmt.format(Number(n) || 0);
}

const moneyFmts = new Map();
// Integer cents shown in the reader's format (display only: cents stay integers elsewhere).
export function money(cents, currency = "eur") {
  const code = String(currency || "eur").toUpperCase();
  if (!moneyFmts.has(code)) moneyFmts.set(code, new Intl.NumberFormat(lang, { style: "currency", currency: code }));
  return moneyFmts.get(code).format((Number(cents) || 0) / 100);
}

export const timeFmt = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
export const dateFmt = new Intl.DateTimeFormat(lang, { dateStyle: "medium" });
export const dateTimeFmt = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
