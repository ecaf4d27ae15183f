// Error acks and API errors as sentences a person understands.
import { number, t } from "../i18n.js";
import { fmtDateTime, fmtDuration } from "../ui.js";

export function errorText(error) {
  const e = error || {};
  const d = e.details || {};
  switch (e.code) {
    case "timed_out":
      return d.until ? t("You are timed out until {date}: you cannot send messages until then.", { date: fmtDateTime(d.until) })
        : t("You are timed out: you cannot send messages for now.");
    case "slow_mode":
      return t("Slow mode is on: wait {duration} before sending again.", { duration: fmtDuration(d.retry_after) });
    case "rate_limited":
      return t("You are sending too fast: try again in {duration}.", { duration: fmtDuration(d.retry_after) });
    case "paid_required":
      return t("This channel is for paid members: it is locked for you.");
    case "announcement_only":
      return t("Only moderators can post in this announcement channel.");
    case "too_long":
      return t("Messages are limited to {max} characters.", { max: number(4000) });
    case "too_many_reactions":
      return t("This message already has {max} different reactions.", { max: number(20) });
    case "blocked":
      return t("You cannot message this person: one of you has blocked the other.");
    case "not_member":
      return t("You are not a member of this guild.");
    case "session_ended":
      return t("Your session has ended: sign in again.");
    case "offline":
    case "timeout":
      return t("You are offline: the message will be sent when the connection is back.");
    default:
      return e.message || t("Something went wrong.");
  }
}

// Worth retrying by hand later (the server refused for now, not for good).
export function isTransient(error) {
  return ["slow_mode", "rate_limited", "offline", "timeout"].includes(error?.code);
}
