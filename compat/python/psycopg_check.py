#!/usr/bin/env python3
"""psycopg 3 (on the system's libpq) through pgmux, the checks of docs/COMPATIBILITY.md:

    /usr/bin/python3 compat/python/psycopg_check.py [--tls] [--killed] [--tag=NAME] "postgresql://alice:PW@127.0.0.1:5434/lab"

Debian's python3-psycopg installs for /usr/bin/python3. One line per check; see harness.py and compat/README.md.
Besides the matrix's checks: binary results, libpq pipeline mode with an error inside, a COPY the client aborts
(CopyFail), NoticeResponse, error fields, libpq's own target_session_attrs check on what pgmux relays.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psycopg  # noqa: E402
from psycopg import errors  # noqa: E402

import harness as h  # noqa: E402
from harness import expect  # noqa: E402

opts = h.Options(sys.argv[1:])
state = {}


def connect(**kwargs):
    args = {"autocommit": True, "sslmode": "disable", "connect_timeout": 10}
    args.update(kwargs)
    return psycopg.connect(opts.url, **args)


def main():
    if "main" not in state:
        state["main"] = connect()
    return state["main"]


def one(c, query, params=None, **kwargs):
    return c.execute(query, params, **kwargs).fetchone()


def danced(a, holder, count, body):
    """Transactions of a, the holder's transaction open during every other one (they move between servers)."""
    pids = []
    for i in range(count):
        hold = i % 2 == 1
        if hold:
            holder.execute("begin")
            holder.execute("select 1")
        with a.transaction():
            pids.append(body(i))
        if hold:
            holder.execute("commit")
    return h.servers(pids)


def fresh_table(c):
    c.execute("drop table if exists %s" % opts.table)
    c.execute("create table %s(i int, t text)" % opts.table)


def killed():
    with connect() as c:
        for i in range(5):
            with c.transaction():
                expect(one(c, "select %s::int", (i,)) == (i,), "wrong answer")


def login():
    with connect() as c:
        expect(one(c, "select current_database()") == (opts.database,), "wrong database")
    with connect(target_session_attrs="read-write") as c:  # libpq asks itself, through pgmux
        expect(one(c, "select 1") == (1,), "wrong answer with target_session_attrs=read-write")
    try:
        connect(password="wrong" + opts.password).close()
        raise AssertionError("a wrong password logged in")
    except psycopg.OperationalError as e:
        expect("password authentication failed" in str(e), "a wrong password got %s" % e)


def tls():
    with connect(sslmode="require") as c:
        expect(c.pgconn.ssl_in_use, "no TLS")
        expect(one(c, "select 1") == (1,), "wrong answer")


def channel_binding():
    with connect(sslmode="require", channel_binding="require") as c:
        expect(one(c, "select 1") == (1,), "wrong answer")


def simple():
    c = main()
    expect(one(c, "select 'simple'") == ("simple",), "wrong answer")  # no parameters: a simple Query
    notices = []
    c.add_notice_handler(lambda d: notices.append(d.message_primary))
    c.execute("do $$ begin raise notice 'hello notice'; end $$")
    expect(notices == ["hello notice"], "NoticeResponse: %s" % notices)


def params():
    c = main()
    expect(one(c, "select %s::int + %s", (2, 3)) == (5,), "wrong answer")
    expect(one(c, "select %b::bytea", (b"\x00\x01\xff",), binary=True) == (b"\x00\x01\xff",), "binary results")


def prepared():
    # prepare=True: a named statement from the first execution on (by default from the fifth)
    with connect() as a, connect() as holder:
        def body(i):
            d, pid = one(a, "select %s::int * 2, pg_backend_pid()", (i,), prepare=True)
            expect(d == 2 * i, "wrong answer")
            return pid
        return danced(a, holder, h.PREPARED_TRANSACTIONS, body)


def pipeline():
    c = main()
    with c.pipeline() as p:
        first = c.execute("select 1")
        second = c.execute("select %s::int", (2,))
        p.sync()
        expect(first.fetchone() == (1,) and second.fetchone() == (2,), "wrong answers in a pipeline")
    fresh_table(c)
    with c.pipeline():
        c.cursor().executemany("insert into %s values (%%s, %%s)" % opts.table, [(i, "p") for i in range(500)])
    expect(one(c, "select count(*) from %s" % opts.table) == (500,), "rows missing")
    try:
        with c.pipeline():
            c.execute("select 1/0")
            c.execute("select 3")
        raise AssertionError("no error inside a pipeline")
    except errors.DivisionByZero:
        pass
    expect(one(c, "select 4") == (4,), "the connection did not work on after an error in a pipeline")


def copy_in():
    c = main()
    fresh_table(c)
    with c.cursor().copy("copy %s from stdin" % opts.table) as cp:
        for i in range(h.COPY_ROWS):
            cp.write_row((i, "row %d" % i))
    expect(one(c, "select count(*), sum(i) from %s" % opts.table) == (h.COPY_ROWS, h.COPY_SUM), "wrong rows")
    try:
        with c.cursor().copy("copy %s from stdin" % opts.table) as cp:
            cp.write_row((1, "a"))
            raise RuntimeError("the client gives up in the middle of a COPY")
    except (RuntimeError, errors.QueryCanceled):
        pass  # psycopg sent CopyFail (3.1 answers with the server's error, later versions with the client's)
    expect(one(c, "select count(*) from %s" % opts.table) == (h.COPY_ROWS,), "a COPY aborted by the client")


def copy_out():
    c = main()
    with c.cursor().copy("copy %s to stdout" % opts.table) as cp:
        data = b"".join(bytes(block) for block in cp)
    expect(data.decode() == h.copy_rows(), "the rows differ")


def listen():
    # psycopg 3.1 hands notifications that arrive with a query's results to the handlers
    got = []
    with connect() as listener:
        listener.add_notify_handler(got.append)
        listener.execute("listen %s" % opts.channel)
        main().execute("notify %s, 'hi'" % opts.channel)
        for _ in range(50):
            listener.execute("select 1")
            if got:
                break
            time.sleep(0.1)
    expect(len(got) == 1 and got[0].channel == opts.channel and got[0].payload == "hi", "notifications: %s" % got)


def cancel():
    c = main()
    canceled = {}

    def cancel_when_running():
        with connect() as poller:
            try:
                h.wait_until(lambda: one(poller, opts.slow_query_running) == (1,), "the query never ran")
            finally:
                canceled["at"] = time.monotonic()
                c.cancel()  # PQcancel, on a connection of its own
    canceler = threading.Thread(target=cancel_when_running)
    canceler.start()
    try:
        c.execute(opts.slow_query)
        raise AssertionError("the query was not canceled")
    except errors.QueryCanceled:
        pass
    canceler.join()
    expect(time.monotonic() - canceled["at"] < 5, "the cancel took too long")
    expect(one(c, "select 3") == (3,), "the connection did not work on")


def txn_error():
    with connect(autocommit=False) as c:
        try:
            c.execute("select 1/0")
            raise AssertionError("no division by zero")
        except errors.DivisionByZero:
            pass
        try:
            c.execute("select 1")
            raise AssertionError("not in a failed transaction")
        except errors.InFailedSqlTransaction:
            pass
        c.rollback()
        expect(one(c, "select 2") == (2,), "the connection did not work on")
        try:
            c.execute("select * from no_such_table")
            raise AssertionError("no error")
        except errors.UndefinedTable as e:
            expect(e.sqlstate == "42P01" and e.diag.message_primary.startswith("relation"), "error fields")
        c.rollback()


def large():
    # a named cursor: DECLARE, then FETCH FORWARD 1000 at a time, inside a transaction
    c = main()
    n = total = 0
    with c.transaction():
        with c.cursor(name="compat_cursor") as cur:
            cur.itersize = 1000
            cur.execute("select g from generate_series(1, %d) g" % h.LARGE_ROWS)
            for (g,) in cur:
                n += 1
                total += g
    expect(n == h.LARGE_ROWS and total == h.LARGE_SUM, "got %d rows" % n)


def set_show():
    with connect() as a, connect() as holder:
        a.execute("set work_mem = '7MB'")

        def body(i):
            shown = one(a, "show work_mem")[0]
            expect(shown == "7MB", "work_mem is %s in transaction %d" % (shown, i + 1))
            return one(a, "select pg_backend_pid()")[0]
        return danced(a, holder, h.SET_SHOW_TRANSACTIONS, body)


def victim():
    connect().execute(opts.victim_query)


def close():
    if "main" in state:
        state["main"].execute("drop table if exists %s" % opts.table)
        state["main"].close()


libpq = psycopg.pq.version()
h.run(opts, {"psycopg": psycopg.__version__, "libpq": "%d.%d" % (libpq // 10000, libpq % 10000),
             "python": "%d.%d.%d" % sys.version_info[:3]},
      {"killed": killed, "login": login, "tls": tls, "channel_binding": channel_binding, "simple": simple,
       "params": params, "prepared": prepared, "pipeline": pipeline, "copy_in": copy_in, "copy_out": copy_out,
       "listen": listen, "cancel": cancel, "txn_error": txn_error, "large": large, "set_show": set_show},
      victim, close)
