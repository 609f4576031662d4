"""The line protocol of the driver compatibility checks (docs/COMPATIBILITY.md), for the Python programs.

Each check prints `PASS id [detail] (ms)`, `FAIL id reason` or `SKIP id reason` (the driver has no means for it).
The same arguments as every check program:

    [--tls] [--killed] [--tag=NAME] [--victim] postgresql://USER:PW@HOST:PORT/DB
"""
import asyncio
import os
import sys
import threading
import time
from urllib.parse import unquote, urlsplit

CHECKS = ["killed", "login", "tls", "channel_binding", "simple", "params", "prepared", "pipeline", "copy_in",
          "copy_out", "listen", "cancel", "txn_error", "large", "set_show"]
CHECK_TIMEOUT = 60
# the killed client's server must not be the one a new client waits on: answers come within seconds
TIMEOUTS = {"killed": 15}
COPY_ROWS = 50000
COPY_SUM = COPY_ROWS * (COPY_ROWS - 1) // 2
LARGE_ROWS = 200000
LARGE_SUM = LARGE_ROWS * (LARGE_ROWS + 1) // 2
PREPARED_TRANSACTIONS = 8
SET_SHOW_TRANSACTIONS = 4


class NotApplicable(Exception):
    """A check the driver has no means for."""


class Options:
    def __init__(self, argv):
        self.tls = self.killed = self.victim = False
        self.tag = "check"
        self.url = None
        for a in argv:
            if a == "--tls":
                self.tls = True
            elif a == "--killed":
                self.killed = True
            elif a == "--victim":
                self.victim = True
            elif a.startswith("--tag="):
                self.tag = a[len("--tag="):]
            elif not a.startswith("--"):
                self.url = a
            else:
                raise SystemExit("unknown option " + a)
        if not self.url:
            raise SystemExit("usage: [--tls] [--killed] [--tag=NAME] [--victim] postgresql://USER:PW@HOST:PORT/DB")
        u = urlsplit(self.url)
        self.database = unquote(u.path[1:])
        self.password = unquote(u.password or "")
        self.table = "compat_" + self.tag
        self.channel = "compat_" + self.tag
        self.victim_query = "select pg_sleep(300) /* compat-victim %s */" % self.tag
        # the query the cancel check cancels, and how another connection sees that it runs (a count of 1)
        self.slow_query = "select pg_sleep(10) /* compat-cancel %s */" % self.tag
        self.slow_query_running = ("select count(*) from pg_stat_activity where state = 'active'"
                                   " and pid <> pg_backend_pid() and query like '%%compat-cancel %s %%'" % self.tag)


def expect(ok, what):
    if not ok:
        raise AssertionError(what)


def wait_until(probe, what):
    """Waits (ten seconds at most) until probe() says yes: a cancel sent before the query runs would cancel nothing."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.05)
    raise AssertionError(what)


async def await_until(probe, what):
    """wait_until for a coroutine probe."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


def servers(pids):
    return "servers=%d" % len(set(pids))


def copy_rows():
    return "".join("%d\trow %d\n" % (i, i) for i in range(COPY_ROWS))


def reason(e):
    text = str(e) if isinstance(e, AssertionError) else "%s: %s" % (type(e).__name__, e)
    return " ".join(text.split())


def _wanted(opts, check):
    if check == "killed" and not opts.killed:
        return None
    if check in ("tls", "channel_binding") and not opts.tls:
        return "run without --tls"
    return ""


def _print(line):
    print(line, flush=True)


def run(opts, versions, checks, victim, close):
    """Runs blocking checks (a dict of functions by id), each in a thread of its own with a time limit; or the victim."""
    if opts.victim:
        try:
            victim()
        except Exception as e:
            _print("FAIL victim " + reason(e))
        os._exit(1)  # a victim is meant to be killed mid-query
    for name, version in versions.items():
        _print("VERSION %s %s" % (name, version))
    for check in CHECKS:
        skip = _wanted(opts, check)
        if skip is None:
            continue
        if skip:
            _print("SKIP %s %s" % (check, skip))
            continue
        outcome = {}

        def body(check=check, outcome=outcome):
            try:
                outcome["detail"] = checks[check]()
            except BaseException as e:
                outcome["error"] = e

        t0 = time.monotonic()
        t = threading.Thread(target=body, daemon=True)
        t.start()
        t.join(TIMEOUTS.get(check, CHECK_TIMEOUT))
        _report(check, t.is_alive(), outcome, t0)
    try:
        close()
    except Exception as e:
        _print("FAIL close " + reason(e))
    sys.stdout.flush()
    os._exit(0)  # threads of a check that hung would keep the process alive


async def arun(opts, versions, checks, victim, close):
    """Runs asyncio checks (a dict of coroutine functions by id) with a time limit each; or the victim."""
    if opts.victim:
        try:
            await victim()
        except Exception as e:
            _print("FAIL victim " + reason(e))
        os._exit(1)
    for name, version in versions.items():
        _print("VERSION %s %s" % (name, version))
    for check in CHECKS:
        skip = _wanted(opts, check)
        if skip is None:
            continue
        if skip:
            _print("SKIP %s %s" % (check, skip))
            continue
        outcome = {}
        t0 = time.monotonic()
        hung = False
        try:
            outcome["detail"] = await asyncio.wait_for(checks[check](), TIMEOUTS.get(check, CHECK_TIMEOUT))
        except asyncio.TimeoutError:
            hung = True
        except Exception as e:
            outcome["error"] = e
        _report(check, hung, outcome, t0)
    try:
        await asyncio.wait_for(close(), 10)
    except Exception as e:
        _print("FAIL close " + reason(e))
    sys.stdout.flush()
    os._exit(0)


def _report(check, hung, outcome, t0):
    if hung:
        _print("FAIL %s timed out after %d s" % (check, TIMEOUTS.get(check, CHECK_TIMEOUT)))
    elif isinstance(outcome.get("error"), NotApplicable):
        _print("SKIP %s %s" % (check, outcome["error"]))
    elif "error" in outcome:
        _print("FAIL %s %s" % (check, reason(outcome["error"])))
    else:
        detail = outcome.get("detail")
        _print("PASS %s%s (%d ms)" % (check, " " + detail if detail else "", (time.monotonic() - t0) * 1000))
