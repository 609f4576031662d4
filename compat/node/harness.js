// The line protocol of the driver compatibility checks (docs/COMPATIBILITY.md), for the node programs: each check
// prints `PASS id [detail] (ms)`, `FAIL id reason` or `SKIP id reason` (the driver has no means for it). The same
// arguments as every check program: [--tls] [--killed] [--tag=NAME] [--victim] postgresql://USER:PW@HOST:PORT/DB
const CHECKS = ['killed', 'login', 'tls', 'channel_binding', 'simple', 'params', 'prepared', 'pipeline', 'copy_in',
  'copy_out', 'listen', 'cancel', 'txn_error', 'large', 'set_show']
const CHECK_TIMEOUT_MS = 60000

class NotApplicable extends Error {}

function parseArgs(argv) {
  const opts = { tls: false, killed: false, victim: false, tag: 'check', url: null }
  for (const a of argv) {
    if (a === '--tls') opts.tls = true
    else if (a === '--killed') opts.killed = true
    else if (a === '--victim') opts.victim = true
    else if (a.startsWith('--tag=')) opts.tag = a.slice('--tag='.length)
    else if (!a.startsWith('--')) opts.url = a
    else throw new Error('unknown option ' + a)
  }
  if (!opts.url) throw new Error('usage: [--tls] [--killed] [--tag=NAME] [--victim] postgresql://USER:PW@HOST:PORT/DB')
  const u = new URL(opts.url)
  opts.database = decodeURIComponent(u.pathname.slice(1))
  opts.password = decodeURIComponent(u.password)
  opts.table = 'compat_' + opts.tag
  opts.channel = 'compat_' + opts.tag
  opts.victimQuery = `select pg_sleep(300) /* compat-victim ${opts.tag} */`
  // the query the cancel check cancels, and how another connection sees that it runs (a count of 1)
  opts.slowQuery = `select pg_sleep(10) /* compat-cancel ${opts.tag} */`
  opts.slowQueryRunning = "select count(*)::int as n from pg_stat_activity where state = 'active'" +
    ` and pid <> pg_backend_pid() and query like '%compat-cancel ${opts.tag} %'`
  return opts
}

/** The URL with another password. */
function withPassword(url, password) {
  const u = new URL(url)
  u.password = encodeURIComponent(password)
  return u.toString()
}

function expect(ok, what) {
  if (!ok) throw new Error(what)
}

function withTimeout(promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(what || `timed out after ${ms} ms`)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Waits (ten seconds at most) until probe() says yes: a cancel sent before the query runs would cancel nothing. */
async function waitUntil(probe, what) {
  const deadline = Date.now() + 10000
  while (Date.now() < deadline) {
    if (await probe()) return
    await sleep(50)
  }
  throw new Error(what)
}
const servers = pids => `servers=${new Set(pids).size}`

const COPY_ROWS = 50000
const COPY_SUM = COPY_ROWS * (COPY_ROWS - 1) / 2
const LARGE_ROWS = 200000
const LARGE_SUM = LARGE_ROWS * (LARGE_ROWS + 1) / 2
const PREPARED_TRANSACTIONS = 8
const SET_SHOW_TRANSACTIONS = 4
const copyRows = () => Array.from({ length: COPY_ROWS }, (_, i) => `${i}\trow ${i}\n`).join('')

/**
 * Runs the checks (an object of async functions by id), or the victim; prints the lines and exits.
 * The version lines come first: versions is an object { name: version }.
 */
async function run(opts, versions, checks, victim, close) {
  if (opts.victim) {
    try { await victim() } catch (e) { console.log(`FAIL victim ${reason(e)}`) }
    process.exit(1) // a victim is meant to be killed mid-query
  }
  for (const [name, version] of Object.entries(versions)) console.log(`VERSION ${name} ${version}`)
  for (const id of CHECKS) {
    if (id === 'killed' && !opts.killed) continue
    if ((id === 'tls' || id === 'channel_binding') && !opts.tls) { console.log(`SKIP ${id} run without --tls`); continue }
    const t0 = Date.now()
    try {
      const detail = await withTimeout(checks[id](), CHECK_TIMEOUT_MS)
      console.log(`PASS ${id}${detail ? ' ' + detail : ''} (${Date.now() - t0} ms)`)
    } catch (e) {
      if (e instanceof NotApplicable) console.log(`SKIP ${id} ${e.message}`)
      else console.log(`FAIL ${id} ${reason(e)}`)
    }
  }
  try { await withTimeout(close(), 10000) } catch (e) { console.log(`FAIL close ${reason(e)}`) }
  process.exit(0)
}

function reason(e) {
  return ((e.code ? e.code + ' ' : '') + (e.message || String(e))).replace(/\n/g, ' ')
}

module.exports = {
  CHECKS, NotApplicable, parseArgs, withPassword, expect, withTimeout, sleep, waitUntil, servers, run, copyRows,
  COPY_ROWS, COPY_SUM, LARGE_ROWS, LARGE_SUM, PREPARED_TRANSACTIONS, SET_SHOW_TRANSACTIONS,
}
