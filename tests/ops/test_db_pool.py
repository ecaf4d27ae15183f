"""The pool releases connections without asyncpg's reset query (db.engine.keep_session): safe?"""

from __future__ import annotations

import uuid

from db.piccolo_conf import DB


async def test_a_connection_released_mid_transaction_comes_back_rolled_back(db):
    table = f"pool_probe_{uuid.uuid4().hex[:8]}"
    async with DB.pool.acquire() as con:
        pid = await con.fetchval("SELECT pg_backend_pid()")
        await con.execute("BEGIN")  # unmanaged, as a crashed handler would leave it
        await con.execute(f"CREATE TABLE {table} (id int)")
        assert con.is_in_transaction()
    async with DB.pool.acquire() as con:  # the pool's queue is LIFO: the same backend
        assert await con.fetchval("SELECT pg_backend_pid()") == pid
        assert not con.is_in_transaction()
        assert await con.fetchval("SELECT txid_current_if_assigned()") is None
        assert await con.fetchval("SELECT to_regclass($1)::text", table) is None
