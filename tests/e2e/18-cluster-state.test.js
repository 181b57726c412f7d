'use strict';
// Cluster mode (phase 2): the cluster-wide channel state in Redis. Three pushgate nodes and a real
// redis-server (no persistence). Presence rosters are one per channel across nodes and per user;
// GET /channels, /channels/{name} and /users answer for the cluster from any node; occupancy
// webhooks and subscription_count follow cluster-wide occupancy, once for the cluster; a node
// killed with SIGKILL is reaped (its members removed, with member_removed) within a bounded time;
// a Redis restart (empty) is survived: every node re-registers its state, with no member_added
// repeated.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./helpers');

const { REDIS_BIN, haveRedis, RedisServer } = require('./redis-server');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ids = (members) => Object.keys(members.members).sort();

describe('cluster-wide state over Redis', { skip: haveRedis ? false : `${REDIS_BIN} not found: cluster tests skipped` }, () => {
  let redis;
  let hooks;
  let n1;
  let n2;
  let n3;
  let app;
  let config;
  const open = [];
  let seq = 0;
  const uniq = (p) => `${p}-${++seq}-${crypto.randomBytes(3).toString('hex')}`;
  const sdk = (srv) => h.sdkClient(srv, app);
  const pjs = (srv, user) => {
    const c = h.pusherClient(srv, { app, presence: user && { user_id: user, user_info: { name: `N-${user}` } } });
    open.push(c);
    return c;
  };
  const raw = async (srv) => { const c = await h.rawConnect(srv, { key: app.key }); open.push(c); return c; };
  const get = (srv, p, params) => h.ok(h.rest.get(sdk(srv), p, params));

  before(async () => {
    hooks = await h.webhookReceiver();
    app = h.makeApp({
      subscription_count: true,
      webhooks: [{ url: hooks.url(), event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }],
    });
    const port = await h.freePort();
    redis = new RedisServer(port);
    await redis.start();
    config = {
      redis_url: `redis://127.0.0.1:${port}`,
      redis_prefix: `e2e-${crypto.randomBytes(4).toString('hex')}`,
      webhook_debounce_ms: 100,
      webhook_batch_ms: 20,
    };
    [n1, n2, n3] = await Promise.all([1, 2, 3].map(() => h.startServer({ apps: [app], config })));
  });

  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    for (const n of [n1, n2, n3]) if (n && n.alive) await n.stop();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
    if (hooks) await hooks.close();
  });

  test('presence: one roster per channel across nodes, per user; member events once per user', async () => {
    const ch = `presence-${uniq('room')}`;
    const x1 = pjs(n1, 'X');
    const sx1 = await h.subscribe(x1, ch);
    assert.deepEqual(ids(sx1.channel.members), ['X']);
    const y = pjs(n2, 'Y');
    const recY = h.recorder(y.subscribe(ch));
    const recX = h.recorder(sx1.channel);
    const sy = await h.subscribe(y, ch);
    assert.deepEqual(ids(sy.channel.members), ['X', 'Y'], 'the joiner on node 2 gets the whole roster');
    assert.deepEqual(sy.channel.members.get('X').info, { name: 'N-X' });
    const added = await recX.wait((e) => e.event === 'pusher:member_added', 3000, 'member_added Y on node 1');
    assert.equal(added.data.id, 'Y');
    assert.deepEqual(added.data.info, { name: 'N-Y' });

    // A second tab of X, on node 2: no member_added anywhere; its roster lists both.
    const x2 = pjs(n2, 'X');
    const sx2 = await h.subscribe(x2, ch);
    assert.deepEqual(ids(sx2.channel.members), ['X', 'Y']);
    await sleep(500);
    assert.equal(recY.named('pusher:member_added').length, 0, 'no member_added for a second connection of X');

    // Cluster-wide REST answers from every node.
    for (const n of [n1, n2, n3]) {
      const users = await get(n, `/channels/${ch}/users`);
      assert.deepEqual(users.users.map((u) => u.id).sort(), ['X', 'Y']);
      const info = await get(n, `/channels/${ch}`, { info: 'user_count,subscription_count' });
      assert.deepEqual(info, { occupied: true, user_count: 2, subscription_count: 3 });
      const list = await get(n, '/channels', { filter_by_prefix: 'presence-', info: 'user_count' });
      assert.deepEqual(list.channels[ch], { user_count: 2 });
    }

    // X's first tab leaves: X is still there (node 2). Its last tab leaves: member_removed.
    h.disconnectAll(x1);
    await sleep(500);
    assert.equal(recY.named('pusher:member_removed').length, 0, 'X still has a connection');
    h.disconnectAll(x2);
    const removed = await recY.wait((e) => e.event === 'pusher:member_removed', 3000, 'member_removed X');
    assert.equal(removed.data.id, 'X');
    await h.eventually(async () => (await get(n1, `/channels/${ch}`, { info: 'user_count' })).user_count === 1, { timeoutMs: 3000, what: 'user_count 1' });
    // Webhooks: once per user for the cluster.
    await h.eventually(() => hooks.of('member_removed', ch).length === 1, { timeoutMs: 3000, what: 'member_removed webhook' });
    assert.deepEqual(hooks.of('member_added', ch).map((e) => e.user_id).sort(), ['X', 'Y']);
    h.disconnectAll(y);
  });

  test('occupancy: one channel_occupied and one channel_vacated for the cluster; subscription_count is the cluster count', async () => {
    const ch = uniq('occ');
    const a = await raw(n1);
    assert.equal((await a.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    assert.equal(h.decodeData(await a.next((f) => f.event === 'pusher_internal:subscription_count', 3000)).subscription_count, 1);
    const b = await raw(n2);
    assert.equal((await b.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    const c = await raw(n3);
    assert.equal((await c.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    await a.next((f) => f.event === 'pusher_internal:subscription_count' && h.decodeData(f).subscription_count === 3, 3000);
    await b.next((f) => f.event === 'pusher_internal:subscription_count' && h.decodeData(f).subscription_count === 3, 3000);
    for (const n of [n1, n2]) {
      const list = await get(n, '/channels', { info: 'subscription_count' });
      assert.deepEqual(list.channels[ch], { subscription_count: 3 });
    }
    a.unsubscribe(ch);
    await c.next((f) => f.event === 'pusher_internal:subscription_count' && h.decodeData(f).subscription_count === 2, 3000);
    b.unsubscribe(ch);
    c.unsubscribe(ch);
    await h.eventually(() => hooks.of('channel_vacated', ch).length === 1, { timeoutMs: 3000, what: 'channel_vacated webhook' });
    await sleep(400);
    assert.equal(hooks.of('channel_occupied', ch).length, 1, JSON.stringify(hooks.events().filter((e) => e.channel === ch)));
    assert.equal(hooks.of('channel_vacated', ch).length, 1);
    const info = await get(n3, `/channels/${ch}`, { info: 'subscription_count' });
    assert.deepEqual(info, { occupied: false, subscription_count: 0 });
  });

  test('a node killed with SIGKILL is reaped: its members leave the others\' rosters within 15 s', async () => {
    const ch = `presence-${uniq('reap')}`;
    const pub = uniq('reap-pub');
    const y = pjs(n1, 'Y');
    const sy = await h.subscribe(y, ch);
    const rec = h.recorder(sy.channel);
    const z = pjs(n3, 'Z');
    await h.subscribe(z, ch);
    await h.subscribe(z, pub);
    await rec.wait((e) => e.event === 'pusher:member_added' && e.data.id === 'Z', 3000, 'member_added Z');
    assert.equal((await get(n2, `/channels/${ch}`, { info: 'user_count' })).user_count, 2);

    const t0 = Date.now();
    n3.proc.kill('SIGKILL');
    await n3.exitPromise;
    const gone = await rec.wait((e) => e.event === 'pusher:member_removed' && e.data.id === 'Z', 15000, 'member_removed Z after the kill');
    assert.ok(gone);
    const took = Date.now() - t0;
    assert.ok(took < 15000, `reaped after ${took} ms`);
    await h.eventually(async () => {
      const info = await get(n2, `/channels/${ch}`, { info: 'user_count,subscription_count' });
      return info.user_count === 1 && info.subscription_count === 1;
    }, { timeoutMs: 3000, what: 'counts without the dead node' });
    const list = await get(n1, '/channels');
    assert.equal(list.channels[pub], undefined, 'the dead node\'s channel is vacated');
    await h.eventually(() => hooks.of('channel_vacated', pub).length === 1, { timeoutMs: 3000, what: 'channel_vacated for the dead node\'s channel' });
    await h.eventually(() => hooks.of('member_removed', ch).length === 1, { timeoutMs: 3000, what: 'member_removed webhook for Z' });
    h.disconnectAll(y);
  });

  test('Redis restart (empty): nodes re-register their state; no member_added is repeated', async () => {
    const ch = `presence-${uniq('restart')}`;
    const pub = uniq('restart-pub');
    const a = pjs(n1, 'A');
    const sa = await h.subscribe(a, ch);
    const recA = h.recorder(sa.channel);
    const b = pjs(n2, 'B');
    const sb = await h.subscribe(b, ch);
    const recB = h.recorder(sb.channel);
    await recA.wait((e) => e.event === 'pusher:member_added', 3000, 'member_added B');
    await h.subscribe(a, pub);
    await h.subscribe(b, pub);

    await redis.kill();
    for (const n of [n1, n2]) {
      await h.eventually(() => /lost Redis at 127\.0\.0\.1/.test(n.stderr), { timeoutMs: 5000, what: 'outage logged' });
    }
    await redis.start();
    for (const n of [n1, n2]) {
      await h.eventually(async () => {
        const r = await h.rest.get(sdk(n), `/channels/${ch}/users`);
        if (r.status !== 200) return false;
        const list = await h.rest.get(sdk(n), '/channels', { info: 'subscription_count' });
        return r.body.users.map((u) => u.id).sort().join() === 'A,B' &&
          list.status === 200 && list.body.channels[pub] && list.body.channels[pub].subscription_count === 2;
      }, { timeoutMs: 8000, intervalMs: 200, what: `state rebuilt, seen from node ${n.port}` });
    }
    assert.equal(recA.named('pusher:member_added').length, 1, 'no member_added repeated on node 1');
    assert.equal(recB.named('pusher:member_added').length, 0, 'no member_added repeated on node 2');
    // And the rebuilt state keeps working: B leaves, A is told.
    h.disconnectAll(b);
    await recA.wait((e) => e.event === 'pusher:member_removed' && e.data.id === 'B', 3000, 'member_removed B after the restart');
    h.disconnectAll(a);
  });
});
