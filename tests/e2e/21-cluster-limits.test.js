'use strict';
// Cluster mode: max_presence_members_per_channel is enforced for the cluster (the Redis "join"
// script counts the channel's users on every node). Two pushgate nodes and a real redis-server.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./helpers');

const REDIS_BIN = '/usr/bin/redis-server';
const haveRedis = fs.existsSync(REDIS_BIN);

/** A throw-away redis-server on 127.0.0.1:port (no persistence, its own temp dir). */
async function startRedis(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-redis-'));
  const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
  { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  process.on('exit', () => { try { proc.kill('SIGKILL'); } catch (_) { /* gone */ } });
  await h.eventually(() => h.tcpAccepts(port), { timeoutMs: 5000, intervalMs: 50, what: `redis-server on ${port}` });
  return {
    async stop() {
      proc.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('cluster-wide presence member limit', { skip: haveRedis ? false : `${REDIS_BIN} not found: cluster tests skipped` }, () => {
  let redis;
  let n1;
  let n2;
  let app;
  const open = [];
  const sdk = (srv) => h.sdkClient(srv, app);
  const raw = async (srv) => { const c = await h.rawConnect(srv, { key: app.key }); open.push(c); return c; };
  const join = (c, srv, ch, user) => c.subscribeSigned(ch, sdk(srv), { user_id: user });
  const roster = (f) => h.decodeData(f).presence.ids.slice().sort();
  const users = async (srv, ch) => (await h.ok(h.rest.get(sdk(srv), `/channels/${ch}/users`))).users.map((u) => u.id).sort();

  before(async () => {
    app = h.makeApp({ max_presence_members_per_channel: 2, subscription_count: true });
    const port = await h.freePort();
    redis = await startRedis(port);
    const config = { redis_url: `redis://127.0.0.1:${port}`, redis_prefix: `e2e-${crypto.randomBytes(4).toString('hex')}` };
    [n1, n2] = await Promise.all([1, 2].map(() => h.startServer({ apps: [app], config })));
  });

  after(async () => {
    for (const c of open) c.terminate();
    for (const n of [n1, n2]) if (n && n.alive) await n.stop();
    if (redis) await redis.stop();
  });

  test('a third user on the other node is refused (4100, nothing left behind); a second tab is admitted; a freed place fits', async () => {
    const ch = `presence-lim-${crypto.randomBytes(3).toString('hex')}`;
    const a = await raw(n1);
    assert.equal((await join(a, n1, ch, 'A')).event, 'pusher_internal:subscription_succeeded');
    const b = await raw(n2);
    const fb = await join(b, n2, ch, 'B');
    assert.equal(fb.event, 'pusher_internal:subscription_succeeded', fb.__text);
    assert.deepEqual(roster(fb), ['A', 'B']);
    await a.next('pusher_internal:member_added');

    // Node 1 has one member only: the cluster's count refuses C, as a single node would.
    const c = await raw(n1);
    const fc = await join(c, n1, ch, 'C');
    assert.equal(fc.event, 'pusher:subscription_error', fc.__text);
    assert.equal(fc.channel, ch);
    assert.equal(fc.data.type, 'LimitReached', fc.__text);
    assert.equal(fc.data.status, 4100, fc.__text);
    assert.match(fc.data.error, /max_presence_members_per_channel 2/);
    // Nothing left behind: no member event, the same roster and counts on both nodes, and the
    // socket is not subscribed (a repeat is refused again, not confirmed as a duplicate).
    assert.ok(await a.none((f) => f.event && f.event.startsWith('pusher_internal:member_'), 500));
    assert.ok(await b.none((f) => f.event && f.event.startsWith('pusher_internal:member_'), 10));
    for (const n of [n1, n2]) {
      assert.deepEqual(await users(n, ch), ['A', 'B']);
      assert.deepEqual(await h.ok(h.rest.get(sdk(n), `/channels/${ch}`, { info: 'user_count,subscription_count' })),
        { occupied: true, user_count: 2, subscription_count: 2 });
    }
    const again = await join(c, n1, ch, 'C');
    assert.equal(again.event, 'pusher:subscription_error', again.__text);
    assert.equal(again.data.status, 4100);
    assert.ok(c.isOpen, 'the refused connection stays open');

    // A second tab of an existing member (A, on node 2) is admitted at the limit.
    const a2 = await raw(n2);
    const fa2 = await join(a2, n2, ch, 'A');
    assert.equal(fa2.event, 'pusher_internal:subscription_succeeded', fa2.__text);
    assert.deepEqual(roster(fa2), ['A', 'B']);

    // B leaves: a new user fits again (on node 1, where it was refused).
    b.terminate();
    await a.next((f) => f.event === 'pusher_internal:member_removed' && JSON.parse(f.data).user_id === 'B', 5000);
    const ok = await join(c, n1, ch, 'C');
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded', ok.__text);
    assert.deepEqual(roster(ok), ['A', 'C']);
    const added = await a2.next('pusher_internal:member_added');
    assert.equal(JSON.parse(added.data).user_id, 'C');
    await sleep(100);
    assert.deepEqual(await users(n2, ch), ['A', 'C']);
  });
});
