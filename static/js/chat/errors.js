// Error acks and API errors as sentences a person understands.
import { fmtDateTime, fmtDuration } from "../ui.js";

export function errorText(error) {
  const e = error || {};
  const d = e.details || {};
  switch (e.code) {
    case "timed_out":
      return d.until ? `You are timed out until ${fmtDateTime(d.until)}: you cannot send messages until then.`
        : "You are timed out: you cannot send messages for now.";
    case "slow_mode":
      return `Slow mode is on: wait ${fmtDuration(d.retry_after)} before sending again.`;
    case "rate_limited":
      return `You are sending too fast: try again in ${fmtDuration(d.retry_after)}.`;
    case "paid_required":
      return "This channel is for paid members: it is locked for you.";
    case "announcement_only":
      return "Only moderators can post in this announcement channel.";
    case "too_long":
      return "Messages are limited to 4,000 characters.";
    case "too_many_reactions":
      return "This message already has 20 different reactions.";
    case "blocked":
      return "You cannot message this person: one of you has blocked the other.";
    case "not_member":
      return "You are not a member of this guild.";
    case "session_ended":
      return "Your session has ended: sign in again.";
    case "offline":
    case "timeout":
      return "You are offline: the message will be sent when the connection is back.";
    default:
      return e.message || "Something went wrong.";
  }
}

// Worth retrying by hand later (the server refused for now, not for good).
export function isTransient(error) {
  return ["slow_mode", "rate_limited", "offline", "timeout"].includes(error?.code);
}
