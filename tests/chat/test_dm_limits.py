"""Starting direct conversations is rate-limited per user; existing conversations are not."""

from __future__ import annotations

import pytest

from server import ratelimit
from server.domains.chat import actions
from server.errors import RateLimited
from tests.factories import as_user, make_user


async def test_a_user_cannot_dm_everyone_on_the_platform():
    spammer = as_user(await make_user())
    others = [await make_user() for _ in range(ratelimit.DM_NEW.max_hits + 1)]
    for i, other in enumerate(others[:-1]):
        await actions.check_send_dm(spammer, other["id"], "buy my course", f"spam-{i}")
    with pytest.raises(RateLimited) as err:
        await actions.check_send_dm(spammer, others[-1]["id"], "buy my course", "spam-last")
    assert err.value.code == "rate_limited"
    assert 0 < err.value.details["retry_after"] <= ratelimit.DM_NEW.window_s
    # Opening one counts too: joining is how a browser starts a conversation.
    with pytest.raises(RateLimited):
        await actions.check_join_dm(spammer, others[-1]["id"], None)
    # Conversations that exist go on, both ways.
    again = await actions.check_send_dm(spammer, others[0]["id"], "hello again", "again-1")
    assert again.message.seq == 2
    reply = await actions.check_send_dm(as_user(others[-1]), spammer.id, "who are you?", "r-1")
    assert reply.message.seq == 1


async def test_the_limit_is_per_user():
    first, second = as_user(await make_user()), as_user(await make_user())
    others = [await make_user() for _ in range(ratelimit.DM_NEW.max_hits)]
    for i, other in enumerate(others):
        await actions.check_send_dm(first, other["id"], "hi", f"f-{i}")
    for i, other in enumerate(others):
        await actions.check_send_dm(second, other["id"], "hi", f"s-{i}")
