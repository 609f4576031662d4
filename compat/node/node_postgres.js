// node-postgres (pg, pg-copy-streams, pg-cursor) through pgmux, the checks of docs/COMPATIBILITY.md:
//   node compat/node/node_postgres.js [--tls] [--killed] [--tag=NAME] "postgresql://alice:PASSWORD@127.0.0.1:5434/lab"
// (after `npm ci` in compat/node). One line per check; see harness.js and compat/README.md.
const { Client } = require('pg')
const { from: copyFrom, to: copyTo } = require('pg-copy-streams')
const Cursor = require('pg-cursor')
const { pipeline } = require('stream/promises')
const { Readable, Writable } = require('stream')
const h = require('./harness')
const { expect } = h

const opts = h.parseArgs(process.argv.slice(2))
const config = extra => ({ connectionString: opts.url, ssl: false, connectionTimeoutMillis: 10000, ...extra })
let main

async function connect(extra) {
  const c = new Client(config(extra))
  c.on('error', () => {}) // reported by the query that meets it
  await c.connect()
  return c
}

async function one(c, text, values) {
  return (await c.query(text, values)).rows[0]
}

async function codeOf(c, text) {
  try { await c.query(text); return 'no error' } catch (e) { return e.code }
}

/** Transactions of `a`, the holder's transaction open during every other one (so that they move between servers). */
async function danced(a, holder, count, body) {
  const pids = []
  for (let i = 0; i < count; i++) {
    const hold = i % 2 === 1
    if (hold) { await holder.query('begin'); await holder.query('select 1') }
    await a.query('begin')
    pids.push(await body(i))
    await a.query('commit')
    if (hold) await holder.query('commit')
  }
  return h.servers(pids)
}

async function freshTable(c) {
  await c.query(`drop table if exists ${opts.table}`)
  await c.query(`create table ${opts.table}(i int, t text)`)
}

const checks = {
  async killed() {
    const c = await connect()
    for (let i = 0; i < 5; i++) {
      await h.withTimeout((async () => {
        await c.query('begin')
        expect((await one(c, 'select $1::int as i', [i])).i === i, 'wrong answer')
        await c.query('commit')
      })(), 10000, 'no answer within 10 s')
    }
    await c.end()
  },
  async login() {
    const c = await connect()
    expect((await one(c, 'select current_database() as d')).d === opts.database, 'wrong database')
    await c.end()
    try {
      const bad = new Client({ ...config(), connectionString: h.withPassword(opts.url, 'wrong' + opts.password) })
      await bad.connect()
      await bad.end()
      throw new Error('a wrong password logged in')
    } catch (e) {
      expect(e.code === '28P01', `a wrong password got ${e.code} ${e.message}`)
    }
  },
  async tls() {
    const c = await connect({ ssl: { rejectUnauthorized: false } })
    expect((await one(c, 'select 1 as x')).x === 1, 'wrong answer')
    await c.end()
  },
  async channel_binding() {
    // enableChannelBinding uses SCRAM-SHA-256-PLUS when offered; the mechanism it chose is checked to require it
    const c = new Client(config({ ssl: { rejectUnauthorized: false }, enableChannelBinding: true }))
    let mechanism
    const send = c.connection.sendSASLInitialResponseMessage.bind(c.connection)
    c.connection.sendSASLInitialResponseMessage = (m, r) => { mechanism = m; return send(m, r) }
    await c.connect()
    try {
      expect(mechanism === 'SCRAM-SHA-256-PLUS', `the login used ${mechanism}, not SCRAM-SHA-256-PLUS`)
      expect((await one(c, 'select 1 as x')).x === 1, 'wrong answer')
    } finally {
      await c.end()
    }
  },
  async simple() {
    // no parameters, no name: a simple Query
    expect((await one(main, "select 'simple' as x")).x === 'simple', 'wrong answer')
  },
  async params() {
    expect((await one(main, 'select $1::int + $2::int as x', [2, 3])).x === 5, 'wrong answer')
  },
  async prepared() {
    const a = await connect()
    const holder = await connect()
    const detail = await danced(a, holder, h.PREPARED_TRANSACTIONS, async i => {
      const r = await one(a, { name: 'compat_p', text: 'select $1::int * 2 as d, pg_backend_pid() as pid', values: [i] })
      expect(r.d === 2 * i, 'wrong answer')
      return r.pid
    })
    await a.end()
    await holder.end()
    return detail
  },
  async pipeline() {
    // pipeline: true sends each query without waiting for the one before; the default client queues them
    const p = await connect({ pipeline: true })
    const piped = await Promise.all(Array.from({ length: 200 }, (_, i) => p.query('select $1::int as i', [i])))
    expect(piped.every((r, i) => r.rows[0].i === i), 'wrong answers in pipeline mode')
    await p.end()
    const queued = await Promise.all(Array.from({ length: 200 }, (_, i) => main.query('select $1::int as i', [i])))
    expect(queued.every((r, i) => r.rows[0].i === i), 'wrong answers to queued queries')
  },
  async copy_in() {
    await freshTable(main)
    await pipeline(Readable.from([h.copyRows()]), main.query(copyFrom(`copy ${opts.table} from stdin`)))
    const r = await one(main, `select count(*)::int as n, sum(i)::bigint as s from ${opts.table}`)
    expect(r.n === h.COPY_ROWS && Number(r.s) === h.COPY_SUM, `got ${r.n} rows`)
  },
  async copy_out() {
    let out = ''
    await pipeline(main.query(copyTo(`copy ${opts.table} to stdout`)),
      new Writable({ write(chunk, enc, cb) { out += chunk; cb() } }))
    expect(out === h.copyRows(), 'the rows differ')
  },
  async listen() {
    const listener = await connect()
    await listener.query(`listen ${opts.channel}`)
    const notified = new Promise(resolve => listener.on('notification', resolve))
    await main.query(`notify ${opts.channel}, 'hi'`)
    const note = await h.withTimeout(notified, 10000, 'no notification')
    expect(note.payload === 'hi' && note.channel === opts.channel, 'wrong notification')
    await listener.end()
  },
  async cancel() {
    const slow = main.query(opts.slowQuery)
    const poller = await connect()
    await h.waitUntil(async () => (await one(poller, opts.slowQueryRunning)).n === 1, 'the query never ran')
    await poller.end()
    const t0 = Date.now()
    new Client(config()).cancel(main, main.activeQuery) // a CancelRequest on a connection of its own
    try {
      await slow
      throw new Error('the query was not canceled')
    } catch (e) {
      expect(e.code === '57014', `got ${e.code} ${e.message}`)
    }
    expect(Date.now() - t0 < 5000, 'the cancel took too long')
    expect((await one(main, 'select 3 as x')).x === 3, 'the connection did not work on')
  },
  async txn_error() {
    const c = await connect()
    await c.query('begin')
    expect(await codeOf(c, 'select 1/0') === '22012', 'no division by zero')
    expect(await codeOf(c, 'select 1') === '25P02', 'not in a failed transaction')
    await c.query('rollback')
    expect((await one(c, 'select 2 as x')).x === 2, 'the connection did not work on')
    await c.end()
  },
  async large() {
    // pg-cursor: a portal read 1000 rows at a time (Execute with a row limit)
    const cursor = main.query(new Cursor(`select g from generate_series(1, ${h.LARGE_ROWS}) g`))
    let n = 0
    let sum = 0
    for (;;) {
      const rows = await cursor.read(1000)
      if (!rows.length) break
      n += rows.length
      for (const r of rows) sum += r.g
    }
    await cursor.close()
    expect(n === h.LARGE_ROWS && sum === h.LARGE_SUM, `got ${n} rows`)
  },
  async set_show() {
    const a = await connect()
    const holder = await connect()
    await a.query("set work_mem = '7MB'")
    const detail = await danced(a, holder, h.SET_SHOW_TRANSACTIONS, async i => {
      const shown = (await one(a, 'show work_mem')).work_mem
      expect(shown === '7MB', `work_mem is ${shown} in transaction ${i + 1}`)
      return (await one(a, 'select pg_backend_pid() as pid')).pid
    })
    await a.end()
    await holder.end()
    return detail
  },
}

h.run(opts, { 'node-postgres': require('pg/package.json').version, node: process.versions.node },
  new Proxy(checks, { get: (t, id) => async () => { if (!main) main = await connect(); return t[id]() } }),
  async () => { const c = await connect(); await c.query(opts.victimQuery) },
  async () => { if (main) { await main.query(`drop table if exists ${opts.table}`); await main.end() } })
