// Affiliate links: `?ref={slug}` on any page records the click (the server sets an HttpOnly
// cookie for 30 days). A signed-in browser carrying that cookie turns it into the user's
// attribution once (the page marks it: the cookie itself is unreadable here).
import { api } from "./api.js";

const params = new URLSearchParams(location.search);
const ref = params.get("ref");

async function track(slug) {
  const query = new URLSearchParams({ ref: slug, landing: location.pathname, referrer: document.referrer });
  try {
    await api("GET", `/api/affiliate/track?${query}`);
  } catch { return; } // unknown link: nothing to remember
  // A reload or a shared copy of this URL must not count the click again.
  params.delete("ref");
  const rest = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${rest ? `?${rest}` : ""}${location.hash}`);
}

if (ref) {
  track(ref);
} else if (document.body.dataset.refPending) {
  api("POST", "/api/affiliate/claim").catch(() => {});
}
