"""Opening a turn: queued messages of a key become one turn, at most one open per conversation."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.assistants import Assistant
from bot.keys import choice_keys
from bot.turns.context import TurnContext
from bot.turns.held import HeldTurn
from storage import choices, conversations, turns


class Opening:
    """Opens turns over the inbox's queued messages."""

    def __init__(self, ctx: TurnContext) -> None:
        self.ctx = ctx

    async def open(self, session: AsyncSession, key: str) -> HeldTurn | None:
        """In `session`: open a turn over the key's queued messages, held by this process;
        None when nothing is queued or a turn is already open."""
        ctx = self.ctx
        pending = await turns.pending_messages(session=session, key=key)
        if not pending:
            return None  # the usual case after a turn: no look-up of the conversation
        assistant = await self._assistant_of(session, key)
        backend = ctx.backends.for_assistant(assistant)
        conversation = await conversations.current_conversation(
            session=session, key=key, assistant=assistant.name, backend=backend.kind
        )
        opened = await turns.open_turn(
            session=session,
            key=key,
            conversation_id=conversation.id or 0,
            pending=pending,
            owner=ctx.owner,
            lease=ctx.lease,
        )
        if opened is None:
            return None
        turn, queued = opened
        return HeldTurn(turn, conversation, queued)

    async def open_next(self, key: str) -> HeldTurn | None:
        """After a turn: open the next over messages that came meanwhile, if any may have.

        On SQLite every message reaches this process, so it knows; with several processes
        (PostgreSQL) one may have reached another, so the queue is always looked at, first
        with a plain read (the usual answer is "nothing", and a transaction costs two more
        round trips).
        """
        ctx = self.ctx
        if ctx.db.is_sqlite and key not in ctx.book.waiting_keys:
            return None
        ctx.book.waiting_keys.discard(key)
        async with ctx.db.session(single=True) as session:
            if not await turns.pending_messages(session=session, key=key):
                return None
        async with ctx.db.session() as session:
            return await self.open(session, key)

    async def _assistant_of(self, session: AsyncSession, key: str) -> Assistant:
        """The key's chosen assistant (`/assistant use`), or the default."""
        assistants = self.ctx.assistants
        if len(assistants.by_name) == 1:
            return assistants.default  # nothing to choose from: skip the look-up
        choice = await choices.current_choice(session=session, keys=choice_keys(key))
        return assistants.get(choice.assistant if choice else None) or assistants.default
