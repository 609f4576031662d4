// node-postgres through a transaction pool: many clients at once, each with named prepared statements reused
// across transactions on whichever server it gets.  node compat/node/pooled.js "postgresql://user:pw@host:port/db"
const { Client } = require('pg');

const cfg = { connectionString: process.argv[2] };
let failed = 0;
const check = (name, ok) => { console.log((ok ? 'PASS ' : 'FAIL ') + name); if (!ok) failed++; };
setTimeout(() => { console.log('FAIL a check hung'); process.exit(3); }, 120000).unref();

async function worker(id) {
  const c = new Client(cfg);
  await c.connect();
  let ok = true;
  for (let i = 0; i < 40; i++) {
    const r = await c.query({ name: 'add', text: 'select $1::int + $2::int as s', values: [id, i] });
    ok = ok && r.rows[0].s === id + i;
    const t = await c.query({ name: 'txt', text: 'select $1::text || $2::text as t', values: ['w' + id, '-' + i] });
    ok = ok && t.rows[0].t === 'w' + id + '-' + i;
    if (i % 8 === 0) {
      await c.query('begin');
      const a = await c.query({ name: 'add', text: 'select $1::int + $2::int as s', values: [i, 1] });
      const pid1 = (await c.query('select pg_backend_pid() as p')).rows[0].p;
      const pid2 = (await c.query('select pg_backend_pid() as p')).rows[0].p;
      await c.query('commit');
      ok = ok && a.rows[0].s === i + 1 && pid1 === pid2;
    }
    if (i % 13 === 0) {
      try { await c.query({ name: 'div', text: 'select 1 / $1::int as d', values: [0] }); ok = false; } catch (e) { ok = ok && e.code === '22012'; }
      await c.query('begin');
      try { await c.query('select 1/0'); ok = false; } catch (e) { ok = ok && e.code === '22012'; }
      try { await c.query('select 1'); ok = false; } catch (e) { ok = ok && e.code === '25P02'; }
      await c.query('rollback');
    }
  }
  await c.end();
  return ok;
}

(async () => {
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => worker(i + 1)));
  check('12 clients with named statements across transactions', results.every(Boolean));
  console.log(failed ? `${failed} failed` : 'all passed');
  process.exit(failed ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
