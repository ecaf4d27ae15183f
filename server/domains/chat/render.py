"""Message Markdown to safe HTML, and @mentions.

markdown-it renders with raw HTML disabled; nh3 (ammonia) then keeps only an allow-list of
tags and attributes, drops on* handlers and non-http(s)/mailto links, and forces
rel="noopener noreferrer nofollow" on links: two independent layers.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "span": {"class"}}
MENTION_RE = re.compile(r"(?<![\w@])@([\w.\-]{2,80})")


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
    md.enable("strikethrough")
    return md


def render(content: str) -> str:
    html = _md().render(content)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()


def mention_names(content: str) -> set[str]:
    return {m.lower() for m in MENTION_RE.findall(content)}
