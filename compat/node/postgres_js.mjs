// postgres.js through pgmux, the checks of docs/COMPATIBILITY.md:
//   node compat/node/postgres_js.mjs [--tls] [--killed] [--tag=NAME] "postgresql://alice:PASSWORD@127.0.0.1:5434/lab"
// (after `npm ci` in compat/node). Queries are prepared as named statements (`prepare: true`, its default) and
// pipelined on a connection (`max_pipeline`). One line per check; see harness.js and compat/README.md.
import { readFileSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import postgres from 'postgres'
import h from './harness.js'

const { expect } = h
const opts = h.parseArgs(process.argv.slice(2))
const version = JSON.parse(readFileSync(new URL('./node_modules/postgres/package.json', import.meta.url))).version
// one connection per client, as the other drivers' clients; notices are not needed
const connect = extra => postgres(opts.url, { max: 1, ssl: false, connect_timeout: 10, onnotice: () => {}, ...extra })
let main

async function end(sql) {
  await sql.end({ timeout: 5 })
}

async function codeOf(sql, query) {
  try { await query; return 'no error' } catch (e) { return e.code }
}

/** Transactions of `a`, the holder's transaction open during every other one (so that they move between servers). */
async function danced(a, holder, count, body) {
  const pids = []
  for (let i = 0; i < count; i++) {
    const hold = i % 2 === 1
    let held
    if (hold) {
      held = await holder.reserve()
      await held`begin`
      await held`select 1`
    }
    pids.push(await a.begin(tx => body(tx, i)))
    if (hold) {
      await held`commit`
      held.release()
    }
  }
  return h.servers(pids)
}

async function freshTable(sql) {
  await sql`drop table if exists ${sql(opts.table)}`
  await sql`create table ${sql(opts.table)}(i int, t text)`
}

const checks = {
  async killed() {
    const sql = connect()
    for (let i = 0; i < 5; i++) {
      await h.withTimeout(sql.begin(async tx => {
        const [r] = await tx`select ${i}::int as i`
        expect(r.i === i, 'wrong answer')
      }), 10000, 'no answer within 10 s')
    }
    await end(sql)
  },
  async login() {
    const sql = connect()
    const [r] = await sql`select current_database() as d`
    expect(r.d === opts.database, 'wrong database')
    await end(sql)
    const bad = connect({ password: 'wrong' + opts.password })
    try {
      await bad`select 1`
      throw new Error('a wrong password logged in')
    } catch (e) {
      expect(e.code === '28P01', `a wrong password got ${e.code} ${e.message}`)
    } finally {
      await end(bad)
    }
  },
  async tls() {
    const sql = connect({ ssl: 'require' })
    const [r] = await sql`select 1 as x`
    expect(r.x === 1, 'wrong answer')
    await end(sql)
  },
  async channel_binding() {
    const sql = connect({ ssl: 'require', channel_binding: 'require' })
    try {
      const [r] = await sql`select 1 as x`
      expect(r.x === 1, 'wrong answer')
    } finally {
      await end(sql)
    }
  },
  async simple() {
    const [r] = await main`select 'simple' as x`.simple()
    expect(r.x === 'simple', 'wrong answer')
  },
  async params() {
    const [r] = await main`select ${2}::int + ${3}::int as x`
    expect(r.x === 5, 'wrong answer')
  },
  async prepared() {
    const a = connect()
    const holder = connect()
    const detail = await danced(a, holder, h.PREPARED_TRANSACTIONS, async (tx, i) => {
      const [r] = await tx`select ${i}::int * 2 as d, pg_backend_pid() as pid`
      expect(r.d === 2 * i, 'wrong answer')
      return r.pid
    })
    await end(a)
    await end(holder)
    return detail
  },
  async pipeline() {
    // queries not awaited one by one are pipelined on the connection, each with its own Sync
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => main`select ${i}::int as i`))
    expect(all.every(([r], i) => r.i === i), 'wrong answers')
    // and inside a transaction, as an array
    const [[x], [y]] = await main.begin(tx => [tx`select 1::int as v`, tx`select 2::int as v`])
    expect(x.v === 1 && y.v === 2, 'wrong answers in a transaction')
  },
  async copy_in() {
    await freshTable(main)
    const w = await main`copy ${main(opts.table)} from stdin`.writable()
    await pipeline(Readable.from([h.copyRows()]), w)
    const [r] = await main`select count(*)::int as n, sum(i)::text as s from ${main(opts.table)}`
    expect(r.n === h.COPY_ROWS && Number(r.s) === h.COPY_SUM, `got ${r.n} rows`)
  },
  async copy_out() {
    const r = await main`copy ${main(opts.table)} to stdout`.readable()
    let out = ''
    for await (const chunk of r) out += chunk
    expect(out === h.copyRows(), 'the rows differ')
  },
  async listen() {
    // listen() keeps a connection of its own for notifications (until end())
    const listener = connect()
    let resolve
    const got = new Promise(r => { resolve = r })
    await listener.listen(opts.channel, payload => resolve(payload))
    await main.notify(opts.channel, 'hi')
    expect(await h.withTimeout(got, 10000, 'no notification') === 'hi', 'wrong notification')
    await end(listener)
  },
  async cancel() {
    const slow = main.unsafe(opts.slowQuery)
    slow.catch(() => {})
    const poller = connect()
    await h.waitUntil(async () => (await poller.unsafe(opts.slowQueryRunning))[0].n === 1, 'the query never ran')
    await end(poller)
    const t0 = Date.now()
    slow.cancel()
    try {
      await slow
      throw new Error('the query was not canceled')
    } catch (e) {
      expect(e.code === '57014', `got ${e.code} ${e.message}`)
    }
    expect(Date.now() - t0 < 5000, 'the cancel took too long')
    const [r] = await main`select 3 as x`
    expect(r.x === 3, 'the connection did not work on')
  },
  async txn_error() {
    const codes = []
    try {
      await main.begin(async tx => {
        codes.push(await codeOf(tx, tx`select 1/0`))
        codes.push(await codeOf(tx, tx`select 1`))
        throw new Error('roll back')
      })
    } catch (e) {
      if (e.message !== 'roll back') throw e
    }
    expect(codes[0] === '22012', `no division by zero: ${codes[0]}`)
    expect(codes[1] === '25P02', `not in a failed transaction: ${codes[1]}`)
    const [r] = await main`select 2 as x`
    expect(r.x === 2, 'the connection did not work on')
  },
  async large() {
    // a portal read 1000 rows at a time
    let n = 0
    let sum = 0
    for await (const rows of main`select g from generate_series(1, ${h.LARGE_ROWS}::int) g`.cursor(1000)) {
      n += rows.length
      for (const r of rows) sum += r.g
    }
    expect(n === h.LARGE_ROWS && sum === h.LARGE_SUM, `got ${n} rows`)
  },
  async set_show() {
    const a = connect()
    const holder = connect()
    await a`set work_mem = '7MB'`
    const detail = await danced(a, holder, h.SET_SHOW_TRANSACTIONS, async (tx, i) => {
      const [s] = await tx`show work_mem`
      expect(s.work_mem === '7MB', `work_mem is ${s.work_mem} in transaction ${i + 1}`)
      const [p] = await tx`select pg_backend_pid() as pid`
      return p.pid
    })
    await end(a)
    await end(holder)
    return detail
  },
}

main = connect()
h.run(opts, { 'postgres.js': version, node: process.versions.node }, checks,
  async () => { await connect().unsafe(opts.victimQuery) },
  async () => { await main`drop table if exists ${main(opts.table)}`; await end(main) })
