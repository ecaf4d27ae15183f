"""Chat REST: history pages for channels and DMs, conversation list, blocks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, QueryParameter

from server.domains.auth.guards import login_required
from server.domains.chat import actions, queries
from server.domains.chat.schemas import HISTORY_DEFAULT, BlockResult, ConversationRead, HistoryPage
from server.domains.guilds.queries import access_channel
from server.errors import error_responses

Limit = Annotated[int, QueryParameter(ge=1, le=100)]
SeqParam = Annotated[int | None, QueryParameter(ge=0, le=2**62)]
ERRORS = error_responses(400, 401, 403, 404)


class ChannelMessagesController(Controller):
    path = "/api/channels/{channel_id:int}/messages"
    tags = ["chat"]
    guards = [login_required]

    @get("/", responses=ERRORS)
    async def history(
        self,
        request: Request[Any, Any, Any],
        channel_id: FromPath[int],
        before_seq: SeqParam = None,
        after_seq: SeqParam = None,
        limit: Limit = HISTORY_DEFAULT,
    ) -> HistoryPage:
        """A page of history ascending by seq (at most 100), for cursor pagination."""
        ch = await access_channel(request.user, channel_id)
        return await queries.history(
            "channel", channel_id, ch.channel.last_seq, before_seq, after_seq, limit
        )


class DmController(Controller):
    path = "/api/dms"
    tags = ["chat"]
    guards = [login_required]

    @get("/", responses=ERRORS)
    async def conversations(self, request: Request[Any, Any, Any]) -> list[ConversationRead]:
        """My direct-message conversations, most recent first, with unread counts."""
        return await queries.list_conversations(request.user)

    @get("/{user_id:int}/messages", responses=ERRORS)
    async def history(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[int],
        before_seq: SeqParam = None,
        after_seq: SeqParam = None,
        limit: Limit = HISTORY_DEFAULT,
    ) -> HistoryPage:
        stream = await actions.dm_stream(request.user, user_id, create=False)
        last_seq = await actions.stream_last_seq(stream)
        assert stream.conversation_id is not None
        return await queries.history(
            "conversation", stream.conversation_id, last_seq, before_seq, after_seq, limit
        )


class BlockController(Controller):
    path = "/api/users/{user_id:int}/block"
    tags = ["chat"]
    guards = [login_required]

    @post("/", status_code=200, responses=ERRORS)
    async def block(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> BlockResult:
        """Block a user: direct messages both ways are refused."""
        return await actions.check_block(request.user, user_id, True)

    @delete("/", status_code=200, responses=ERRORS)
    async def unblock(self, request: Request[Any, Any, Any], user_id: FromPath[int]) -> BlockResult:
        return await actions.check_block(request.user, user_id, False)
