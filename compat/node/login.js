// A login that must fail, then a client that gives up while connecting:
//   node compat/node/login.js "postgresql://alice:WRONG@127.0.0.1:5434/lab"
// Prints the failed login's "SQLSTATE message" (exit 1 if the login succeeded), then "PASS end() while connecting"
// when a client that calls end() before its connection is up sees no error at all: its Terminate reaches the server
// before the startup message, which PostgreSQL (and pgmux) answer by closing without a word. See compat/README.md.
const { Client } = require('pg');

setTimeout(() => { console.log('FAIL a check hung'); process.exit(3); }, 30000).unref();

(async () => {
  const c = new Client({ connectionString: process.argv[2] });
  try {
    await c.connect();
    console.log('FAIL the login succeeded');
    await c.end();
    process.exit(1);
  } catch (e) {
    console.log(`${e.code} ${e.message}`);
  }

  const early = new Client({ connectionString: process.argv[2] });
  const errors = [];
  early.on('error', e => errors.push(`error event: ${e.message}`));
  early.connect().then(() => errors.push('connected'), e => errors.push(`connect: ${e.code || ''} ${e.message}`));
  await early.end();
  await new Promise(resolve => setTimeout(resolve, 200)); // time for a late error to arrive
  console.log(errors.length ? `FAIL end() while connecting: ${errors.join('; ')}` : 'PASS end() while connecting');
  process.exit(errors.length ? 1 : 0);
})().catch(e => { console.error(e); process.exit(2); });
