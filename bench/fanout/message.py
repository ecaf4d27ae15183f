"""The chat `Message` the bench peers broadcast: same shape and about the same size as ours."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from html import escape
from typing import Any

# In memory and per process: the peers have no persistence (two processes number independently).
_ids = itertools.count(1)
_seq: dict[int, int] = {}


def make_message(author: str, channel_id: int, content: str, client_msg_id: str) -> dict[str, Any]:
    """A `Message` as docs/realtime.md describes it, with the next per-channel seq of this process."""
    seq = _seq[channel_id] = _seq.get(channel_id, 0) + 1
    return {
        "id": next(_ids),
        "channel_id": channel_id,
        "conversation_id": None,
        "seq": seq,
        "author": {"id": 0, "display_name": author[:8]},
        "content": content,
        "html": f"<p>{escape(content)}</p>",
        "client_msg_id": client_msg_id,
        "mentions": [],
        "reactions": [],
        "created_at": datetime.now(UTC).isoformat(),
        "edited_at": None,
        "deleted": False,
    }
