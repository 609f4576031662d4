// node-postgres checks through pgmux:  node compat/node/check.js "postgresql://alice:PASSWORD@127.0.0.1:5434/lab"
// (after `npm ci` in compat/node). Exit status 0 when every check passes. See compat/README.md.
const { Client } = require('pg');
const { from: copyFrom, to: copyTo } = require('pg-copy-streams');
const Cursor = require('pg-cursor');
const { pipeline } = require('stream/promises');
const { Readable, Writable } = require('stream');

const cfg = { connectionString: process.argv[2] };
let failed = 0;
const check = (name, ok) => { console.log((ok ? 'PASS ' : 'FAIL ') + name); if (!ok) failed++; };
setTimeout(() => { console.log('FAIL a check hung'); process.exit(3); }, 120000).unref();

(async () => {
  const c = new Client(cfg);
  await c.connect();
  check('simple query', (await c.query('select 1 as x')).rows[0].x === 1);
  check('parameters (extended protocol)', (await c.query('select $1::int + $2 as x', [2, 3])).rows[0].x === 5);
  check('named prepared statement', (await c.query({ name: 'p1', text: 'select $1::text as t', values: ['a'] })).rows[0].t === 'a'
      && (await c.query({ name: 'p1', text: 'select $1::text as t', values: ['b'] })).rows[0].t === 'b');
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => c.query('select $1::int as i', [i])));
  check('200 queued queries', many.every((r, i) => r.rows[0].i === i));
  try { await c.query('select 1/0'); check('error', false); } catch (e) { check('error', e.code === '22012'); }
  check('session usable after an error', (await c.query('select 2 as x')).rows[0].x === 2);
  await c.query('create temporary table t(i int, s text)');
  const rows = Array.from({ length: 20000 }, (_, i) => `${i}\trow ${i}\n`).join('');
  await pipeline(Readable.from([rows]), c.query(copyFrom('copy t from stdin')));
  check('COPY FROM STDIN', (await c.query('select count(*)::int as n from t')).rows[0].n === 20000);
  let out = 0;
  await pipeline(c.query(copyTo('copy t to stdout')), new Writable({ write(chunk, enc, cb) { out += chunk.length; cb(); } }));
  check('COPY TO STDOUT', out === Buffer.byteLength(rows));
  const cursor = c.query(new Cursor('select generate_series(1, 5000) as g'));
  let n = 0;
  for (;;) { const r = await cursor.read(700); if (!r.length) break; n += r.length; }
  await cursor.close();
  check('cursor (portal with row limit)', n === 5000);
  const listener = new Client(cfg);
  await listener.connect();
  await listener.query('listen compat_channel');
  const notified = new Promise(resolve => listener.on('notification', resolve));
  await c.query("notify compat_channel, 'hi'");
  const note = await notified;
  check('LISTEN/NOTIFY', note.payload === 'hi' && note.channel === 'compat_channel');
  const slow = c.query('select pg_sleep(10)');
  setTimeout(() => new Client(cfg).cancel(c, c.activeQuery), 300);
  const t0 = Date.now();
  try { await slow; check('cancel request', false); } catch (e) { check('cancel request', e.code === '57014' && Date.now() - t0 < 5000); }
  check('session usable after cancel', (await c.query('select 3 as x')).rows[0].x === 3);
  await listener.end();
  await c.end();
  console.log(failed ? `${failed} failed` : 'all passed');
  process.exit(failed ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
