#!/usr/bin/env python3
"""Client checks with psycopg 3 (libpq) and, when installed, psycopg2, through pgmux.

    python3 compat/psycopg_check.py "postgresql://alice:PASSWORD@127.0.0.1:5434/lab"

The URI is what `./pgmux demo` prints (any user that may create temporary tables will do). Exit status 0 when
every check passes. See compat/README.md.
"""
import faulthandler
import io
import select
import sys
import threading
import time

import psycopg
from psycopg.conninfo import make_conninfo

faulthandler.dump_traceback_later(120, exit=True)  # a hang is a failure, with a stack trace
URI = sys.argv[1]
results = []


def check(name, ok):
    results.append((name, bool(ok)))
    print(("PASS " if ok else "FAIL ") + name, flush=True)


with psycopg.connect(URI, autocommit=True) as c:
    check("simple query", c.execute("select 1").fetchone() == (1,))
    check("parameters (extended protocol)", c.execute("select %s::int + %s", (2, 3)).fetchone() == (5,))
    check("binary results", c.execute("select %b::bytea", (b"\x00\x01\xff",), binary=True).fetchone()[0]
          == b"\x00\x01\xff")
    for i in range(7):  # psycopg prepares a statement on its fifth use
        r = c.execute("select %s::text || 'x'", (str(i),), prepare=True).fetchone()
    check("server-side prepared statement", r == ("6x",))
    with c.pipeline() as p:
        first = c.execute("select 1")
        second = c.execute("select 2")
        p.sync()
        check("libpq pipeline mode", first.fetchone() == (1,) and second.fetchone() == (2,))
    try:
        with c.pipeline():
            c.execute("select 1/0")
            c.execute("select 3")
        check("error inside a pipeline", False)
    except psycopg.errors.DivisionByZero:
        check("error inside a pipeline", True)
    check("session usable after a pipeline error", c.execute("select 4").fetchone() == (4,))
    c.execute("create temporary table compat_copy(i int, t text)")
    with c.cursor().copy("copy compat_copy from stdin") as cp:
        for i in range(50000):
            cp.write_row((i, "row %d" % i))
    check("COPY FROM STDIN, 50,000 rows",
          c.execute("select count(*), sum(i) from compat_copy").fetchone() == (50000, sum(range(50000))))
    with c.cursor().copy("copy compat_copy to stdout") as cp:
        check("COPY TO STDOUT", sum(1 for _ in cp.rows()) == 50000)
    try:
        with c.cursor().copy("copy compat_copy from stdin") as cp:
            cp.write_row((1, "a"))
            raise RuntimeError("the client gives up in the middle of a COPY")
    except RuntimeError:
        pass
    check("COPY aborted by the client (CopyFail)", c.execute("select count(*) from compat_copy").fetchone() == (50000,))
    with c.transaction():
        with c.cursor(name="compat_cursor") as cur:
            cur.itersize = 1000
            cur.execute("select generate_series(1, 10000)")
            check("named (server-side) cursor", sum(1 for _ in cur) == 10000)
    notices = []
    c.add_notice_handler(lambda d: notices.append(d.message_primary))
    c.execute("do $$ begin raise notice 'hello notice'; end $$")
    check("NoticeResponse", notices == ["hello notice"])
    try:
        c.execute("select * from no_such_table")
        check("error fields", False)
    except psycopg.errors.UndefinedTable as e:
        check("error fields", e.sqlstate == "42P01" and e.diag.message_primary.startswith("relation"))

with psycopg.connect(URI, autocommit=True) as listener, psycopg.connect(URI, autocommit=True) as sender:
    listener.execute("listen compat_channel")
    sender.execute("notify compat_channel, 'payload 1'")
    got = list(listener.notifies(timeout=5, stop_after=1))
    check("LISTEN/NOTIFY", len(got) == 1 and got[0].payload == "payload 1")

with psycopg.connect(URI) as c:
    threading.Timer(0.5, c.cancel).start()
    t0 = time.time()
    try:
        c.execute("select pg_sleep(10)")
        check("cancel request (PQcancel)", False)
    except psycopg.errors.QueryCanceled:
        check("cancel request (PQcancel)", time.time() - t0 < 5)
    c.rollback()
    check("session usable after cancel", c.execute("select 5").fetchone() == (5,))

with psycopg.connect(make_conninfo(URI, target_session_attrs="read-write")) as c:
    check("libpq target_session_attrs=read-write", c.execute("select 1").fetchone() == (1,))
try:
    psycopg.connect(make_conninfo(URI, target_session_attrs="standby")).close()
    check("libpq target_session_attrs=standby refused by libpq", False)
except psycopg.OperationalError as e:
    check("libpq target_session_attrs=standby refused by libpq", "standby" in str(e))
try:
    psycopg.connect(make_conninfo(URI, password="not the password")).close()
    check("wrong password", False)
except psycopg.OperationalError as e:
    check("wrong password", "password authentication failed" in str(e))

try:
    import psycopg2
    import psycopg2.extensions
except ImportError:
    psycopg2 = None
    print("SKIP psycopg2 (not installed)")
if psycopg2:
    c = psycopg2.connect(URI)
    lo = c.lobject(0, "wb")
    data = bytes(range(256)) * 4096
    lo.write(data)
    oid = lo.oid
    lo.close()
    c.commit()
    lo = c.lobject(oid, "rb")
    back = lo.read()
    lo.unlink()
    c.commit()
    check("psycopg2 large object, 1 MiB (FunctionCall)", back == data)
    cur = c.cursor()
    cur.execute("create temporary table t(i int, s text)")
    cur.copy_expert("copy t from stdin", io.StringIO("".join("%d\tline %d\n" % (i, i) for i in range(10000))))
    cur.execute("select count(*) from t")
    check("psycopg2 copy_expert", cur.fetchone()[0] == 10000)
    c.close()
    a = psycopg2.connect(URI, async_=1)

    def wait(conn):
        while True:
            state = conn.poll()
            if state == psycopg2.extensions.POLL_OK:
                return
            if state == psycopg2.extensions.POLL_WRITE:
                select.select([], [conn.fileno()], [])
            else:
                select.select([conn.fileno()], [], [])

    wait(a)
    ac = a.cursor()
    ac.execute("select 42")
    wait(a)
    check("psycopg2 asynchronous connection", ac.fetchone() == (42,))
    a.close()

failed = [name for name, ok in results if not ok]
print("%d checks, %d failed%s" % (len(results), len(failed), (": " + ", ".join(failed)) if failed else ""))
sys.exit(1 if failed else 0)
