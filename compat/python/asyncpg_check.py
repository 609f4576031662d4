#!/usr/bin/env python3
"""asyncpg through pgmux, the checks of docs/COMPATIBILITY.md:

    /usr/bin/python3 compat/python/asyncpg_check.py [--tls] [--killed] [--tag=NAME] "postgresql://alice:PW@127.0.0.1:5434/lab"

asyncpg prepares every query as a named statement and keeps it in its statement cache; Debian's python3-asyncpg
installs for /usr/bin/python3. One line per check; see harness.py and compat/README.md.
"""
import asyncio
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import asyncpg  # noqa: E402

import harness as h  # noqa: E402
from harness import expect  # noqa: E402

opts = h.Options(sys.argv[1:])
state = {}


async def connect(**kwargs):
    args = {"ssl": False, "timeout": 10}
    args.update(kwargs)
    return await asyncpg.connect(opts.url, **args)


async def main():
    if "main" not in state:
        state["main"] = await connect()
    return state["main"]


async def sqlstate(c, query):
    try:
        await c.fetch(query)
        return "no error"
    except asyncpg.PostgresError as e:
        return e.sqlstate


async def danced(a, holder, count, body):
    """Transactions of a, the holder's transaction open during every other one (they move between servers)."""
    pids = []
    for i in range(count):
        held = holder.transaction() if i % 2 == 1 else None
        if held:
            await held.start()
            await holder.fetchval("select 1")
        async with a.transaction():
            pids.append(await body(i))
        if held:
            await held.commit()
    return h.servers(pids)


async def fresh_table(c):
    await c.execute("drop table if exists %s" % opts.table)
    await c.execute("create table %s(i int, t text)" % opts.table)


async def killed():
    c = await connect()
    for i in range(5):
        async with c.transaction():
            expect(await c.fetchval("select $1::int", i) == i, "wrong answer")
    await c.close()


async def login():
    c = await connect()
    expect(await c.fetchval("select current_database()") == opts.database, "wrong database")
    await c.close()
    try:
        await (await connect(password="wrong" + opts.password)).close()
        raise AssertionError("a wrong password logged in")
    except asyncpg.PostgresError as e:
        expect(e.sqlstate == "28P01", "a wrong password got %s %s" % (e.sqlstate, e))


async def tls():
    c = await connect(ssl="require")
    expect(await c.fetchval("select 1") == 1, "wrong answer")
    await c.close()


async def channel_binding():
    raise h.NotApplicable("asyncpg does SCRAM-SHA-256 without channel binding")


async def simple():
    # without arguments, execute() sends a simple Query
    expect(await (await main()).execute("select 'simple'") == "SELECT 1", "wrong answer")


async def params():
    expect(await (await main()).fetchval("select $1::int + $2::int", 2, 3) == 5, "wrong answer")


async def prepared():
    a = await connect()
    holder = await connect()

    async def body(i):
        r = await a.fetchrow("select $1::int * 2 as d, pg_backend_pid() as pid", i)
        expect(r["d"] == 2 * i, "wrong answer")
        return r["pid"]
    detail = await danced(a, holder, h.PREPARED_TRANSACTIONS, body)
    await a.close()
    await holder.close()
    return detail


async def pipeline():
    # executemany sends the Bind/Execute of all its rows before it reads the answers
    c = await main()
    await fresh_table(c)
    await c.executemany("insert into %s values ($1, $2)" % opts.table, [(i, "p") for i in range(1000)])
    expect(await c.fetchval("select count(*) from %s" % opts.table) == 1000, "rows missing")


async def copy_in():
    c = await main()
    await fresh_table(c)
    await c.copy_to_table(opts.table, source=io.BytesIO(h.copy_rows().encode()))
    r = await c.fetchrow("select count(*) as n, sum(i) as s from %s" % opts.table)
    expect(r["n"] == h.COPY_ROWS and r["s"] == h.COPY_SUM, "got %d rows" % r["n"])


async def copy_out():
    out = io.BytesIO()
    await (await main()).copy_from_table(opts.table, output=out)
    expect(out.getvalue().decode() == h.copy_rows(), "the rows differ")


async def listen():
    got = asyncio.get_running_loop().create_future()
    listener = await connect()
    await listener.add_listener(opts.channel, lambda conn, pid, channel, payload: got.done() or got.set_result(
        (channel, payload)))
    await (await main()).execute("notify %s, 'hi'" % opts.channel)
    expect(await asyncio.wait_for(got, 10) == (opts.channel, "hi"), "wrong notification")
    await listener.close()


async def cancel():
    # a task canceled while its query runs sends a CancelRequest; the connection then answers at once
    c = await main()
    slow = asyncio.ensure_future(c.execute(opts.slow_query))
    poller = await connect()

    async def running():
        return await poller.fetchval(opts.slow_query_running) == 1
    await h.await_until(running, "the query never ran")
    await poller.close()
    t0 = time.monotonic()
    slow.cancel()
    try:
        await slow
        raise AssertionError("the query was not canceled")
    except asyncio.CancelledError:
        pass
    expect(await c.fetchval("select 3") == 3, "the connection did not work on")
    expect(time.monotonic() - t0 < 5, "the cancel took too long")


async def txn_error():
    c = await connect()
    tx = c.transaction()
    await tx.start()
    expect(await sqlstate(c, "select 1/0") == "22012", "no division by zero")
    expect(await sqlstate(c, "select 1") == "25P02", "not in a failed transaction")
    await tx.rollback()
    expect(await c.fetchval("select 2") == 2, "the connection did not work on")
    await c.close()


async def large():
    # a cursor: a portal read 1000 rows at a time, inside a transaction
    c = await main()
    n = total = 0
    async with c.transaction():
        async for r in c.cursor("select g from generate_series(1, %d) g" % h.LARGE_ROWS, prefetch=1000):
            n += 1
            total += r[0]
    expect(n == h.LARGE_ROWS and total == h.LARGE_SUM, "got %d rows" % n)


async def set_show():
    a = await connect()
    holder = await connect()
    await a.execute("set work_mem = '7MB'")

    async def body(i):
        shown = await a.fetchval("show work_mem")
        expect(shown == "7MB", "work_mem is %s in transaction %d" % (shown, i + 1))
        return await a.fetchval("select pg_backend_pid()")
    detail = await danced(a, holder, h.SET_SHOW_TRANSACTIONS, body)
    await a.close()
    await holder.close()
    return detail


async def victim():
    await (await connect()).execute(opts.victim_query)


async def close():
    if "main" in state:
        await state["main"].execute("drop table if exists %s" % opts.table)
        await state["main"].close()


asyncio.run(h.arun(
    opts, {"asyncpg": asyncpg.__version__, "python": "%d.%d.%d" % sys.version_info[:3]},
    {"killed": killed, "login": login, "tls": tls, "channel_binding": channel_binding, "simple": simple,
     "params": params, "prepared": prepared, "pipeline": pipeline, "copy_in": copy_in, "copy_out": copy_out,
     "listen": listen, "cancel": cancel, "txn_error": txn_error, "large": large, "set_show": set_show},
    victim, close))
