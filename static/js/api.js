// Fetch wrapper: JSON in/out, CSRF header from the csrftoken cookie, errors as ApiError.
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || t("Request failed ({status})", { status }));
    this.status = status;
    this.code = err.code || "error";
    this.details = err.details;
  }
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

export async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export function showError(el, err) {
  let text = err instanceof ApiError ? err.message : t("Network error, try again.");
  if (err instanceof ApiError && err.status === 429 && err.details?.retry_after) {
    text += ` ${t("(retry in {minutes} min)", { minutes: Math.ceil(err.details.retry_after / 60) })}`;
  }
  el.textContent = text;
  el.hidden = false;
}

export function toast(text) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast._t);
  toast._t = setTimeout(() => { el.hidden = true; }, 4000);
}
