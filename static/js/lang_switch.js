// The header's language switch: save the choice (cookie, and the account's setting when signed
// in), then reload so the server renders the page and its catalog in that language.
import { api, ApiError, toast } from "./api.js";
import { lang, t } from "./i18n.js";

const group = document.querySelector(".lang-switch");

async function choose(button) {
  const locale = button.dataset.locale;
  if (locale === lang) return;
  for (const b of group.querySelectorAll("button")) b.disabled = true;
  try {
    await api("POST", "/api/locale", { locale });
    location.reload();
  } catch (err) {
    for (const b of group.querySelectorAll("button")) b.disabled = false;
    toast(err instanceof ApiError ? err.message : t("Network error, try again."));
  }
}

// Buttons: Enter and Space work as for any button.
group?.addEventListener("click", (ev) => {
  const button = ev.target.closest("button[data-locale]");
  if (button) choose(button);
});
