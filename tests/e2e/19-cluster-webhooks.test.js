'use strict';
// Cluster mode: webhooks keep their at-least-once guarantee when a node dies. Two pushgate nodes
// and a real redis-server; every batch is kept in Redis (<P>:wh:p:<node>, <P>:wh:j:<job>) until it
// is delivered. A node killed with SIGKILL while its receiver is down leaves its batches there; the
// other node takes them over (8-10 s after the last heartbeat) and delivers them, with the dead
// node's signature over the exact bytes (checked with the pusher SDK's webhook isValid). A normal
// two-node run sends each webhook once and leaves no job behind in Redis.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./helpers');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const REDIS_BIN = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const haveRedis = fs.existsSync(REDIS_BIN) && fs.existsSync(REDIS_CLI);

const redisProcs = new Set();
process.on('exit', () => {
  for (const p of redisProcs) {
    try { p.kill('SIGKILL'); } catch (_) { /* gone */ }
  }
});

async function startRedis(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-redis-'));
  const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
  { stdio: ['ignore', 'ignore', 'ignore'] });
  redisProcs.add(proc);
  const exited = new Promise((resolve) => proc.once('exit', () => { redisProcs.delete(proc); resolve(); }));
  await h.eventually(() => h.tcpAccepts(port), { timeoutMs: 5000, intervalMs: 50, what: `redis-server on ${port}` });
  return {
    port,
    cli: (...args) => execFileSync(REDIS_CLI, ['-p', String(port), '--raw', ...args], { encoding: 'utf8' }).trim(),
    async stop() {
      proc.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('cluster webhooks survive a node', { skip: haveRedis ? false : 'redis-server / redis-cli not found: skipped' }, () => {
  let redis;
  let prefix;
  const nodes = [];
  const recvs = [];
  const open = [];

  const start = (app) => h.startServer({
    apps: [app],
    config: {
      redis_url: `redis://127.0.0.1:${redis.port}`,
      redis_prefix: prefix,
      webhook_batch_ms: 20,
      webhook_debounce_ms: 100,
      webhook_retry_min_ms: 200,
      webhook_retry_max_ms: 1000,
    },
  }).then((n) => { nodes.push(n); return n; });

  /** Every request passes the SDK's own check (signature over the raw body, key, content type). */
  const verifyAll = (srv, app, r) => {
    assert.ok(r.reqs.length > 0);
    for (const q of r.reqs) {
      assert.equal(q.headers['content-type'], 'application/json');
      const wh = h.sdkClient(srv, app).webhook({ headers: q.headers, rawBody: q.rawBody });
      assert.ok(wh.isValid(), `SDK webhook check failed: ${q.rawBody}`);
    }
  };

  before(async () => {
    redis = await startRedis(await h.freePort());
    prefix = `e2e-wh-${crypto.randomBytes(4).toString('hex')}`;
  });

  after(async () => {
    for (const c of open) c.close();
    for (const n of nodes) if (n.alive) await n.stop();
    for (const r of recvs) await r.close();
    if (redis) await redis.stop();
  });

  test('a normal two-node run sends each webhook once and leaves no job in Redis', async () => {
    const r = await h.webhookReceiver();
    recvs.push(r);
    const app = h.makeApp({ webhooks: [{ url: r.url(), event_types: ['channel_occupied', 'member_added'] }] });
    const [n1, n2] = await Promise.all([start(app), start(app)]);
    const sdk = h.sdkClient(n1, app);
    const a = await h.rawConnect(n1, { key: app.key });
    const b = await h.rawConnect(n2, { key: app.key });
    open.push(a, b);
    await a.subscribe('once-a');
    await b.subscribe('once-b');
    await a.subscribe('once-shared');
    await b.subscribe('once-shared');
    await a.subscribeSigned('presence-once', sdk, { user_id: 'u1' });
    await b.subscribeSigned('presence-once', h.sdkClient(n2, app), { user_id: 'u2' });
    await h.eventually(() => r.of('member_added', 'presence-once').length === 2 && r.of('channel_occupied', 'once-shared').length >= 1,
      { timeoutMs: 5000, what: 'webhooks of both nodes' });
    await sleep(1500);
    for (const ch of ['once-a', 'once-b', 'once-shared', 'presence-once']) assert.equal(r.of('channel_occupied', ch).length, 1, ch);
    assert.deepEqual(r.of('member_added', 'presence-once').map((e) => e.user_id).sort(), ['u1', 'u2']);
    verifyAll(n1, app, r);
    // Delivered jobs are removed: no list of held jobs, no stored job.
    await h.eventually(() => redis.cli('--scan', '--pattern', `${prefix}:wh:[pj]:*`) === '', { timeoutMs: 3000, what: 'no job left in Redis' });
    a.close();
    b.close();
    await Promise.all([n1.stop(), n2.stop()]);
  });

  test('a node killed with SIGKILL while its receiver is down: another node delivers its webhooks', async () => {
    const r = await h.webhookReceiver({ listen: false }); // connection refused for now
    recvs.push(r);
    const app = h.makeApp({ webhooks: [{ url: r.url(), event_types: ['channel_occupied', 'member_added', 'client_event'] }] });
    const [n1, n2] = await Promise.all([start(app), start(app)]);
    const sdk = h.sdkClient(n1, app);
    const a = await h.rawConnect(n1, { key: app.key });
    open.push(a);
    // Owned by node 1: the cluster transitions its scripts saw, and its client events.
    await a.subscribe('dead-1');
    await a.subscribeSigned('presence-dead', sdk, { user_id: 'ghost' });
    await a.subscribeSigned('private-dead', sdk);
    for (let i = 0; i < 3; i++) a.send({ event: 'client-n', channel: 'private-dead', data: { i } });
    // Node 1 has tried and failed (and stored every batch): wait for its jobs in Redis.
    const stored = () => redis.cli('--scan', '--pattern', `${prefix}:wh:j:*`).split('\n').filter(Boolean)
      .map((k) => redis.cli('GET', k)).join('\n');
    await h.eventually(() => (stored().match(/client-n/g) || []).length === 3 && /member_added/.test(stored()) && /"dead-1"/.test(stored()),
      { timeoutMs: 5000, what: `node 1's jobs stored in Redis (${stored()})` });
    const t0 = Date.now();
    n1.proc.kill('SIGKILL');
    await n1.exitPromise;
    await r.listen();
    await h.eventually(() => r.of('channel_occupied', 'dead-1').length >= 1 &&
        r.of('member_added', 'presence-dead').length >= 1 &&
        r.events().filter((e) => e.name === 'client_event' && e.channel === 'private-dead').length >= 3,
    { timeoutMs: 20000, intervalMs: 100, what: `node 1's webhooks from node 2 (got ${JSON.stringify(r.events())})` });
    const took = Date.now() - t0;
    assert.ok(took < 20000, `delivered after ${took} ms`);
    assert.deepEqual(r.events().find((e) => e.name === 'member_added' && e.channel === 'presence-dead'), { name: 'member_added', channel: 'presence-dead', user_id: 'ghost' });
    // Per endpoint, the dead node's batches go out in their order.
    assert.deepEqual(r.events().filter((e) => e.name === 'client_event').map((e) => JSON.parse(e.data).i), [0, 1, 2]);
    verifyAll(n2, app, r);
    assert.match(n2.stderr, /took over \d+ webhook batch/);
    await h.eventually(() => redis.cli('--scan', '--pattern', `${prefix}:wh:[pj]:*`) === '', { timeoutMs: 3000, what: 'no job left in Redis' });
    await n2.stop();
  });
});
