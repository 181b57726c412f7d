'use strict';
// Cluster mode: cache channels and the watchlist across nodes. Two pushgate nodes joined by a
// real redis-server (no persistence). The last event of a cache channel published through one
// node is replayed to a subscriber on the other (and info=cache answers from any node), with the
// app's cache_ttl_seconds; a user signed in on one node is online for a watcher on the other, and
// offline only when the user's last signed-in connection anywhere closes.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./helpers');

const { REDIS_BIN, haveRedis, RedisServer } = require('./redis-server');

describe('cluster: cache channels and watchlist across nodes', { skip: haveRedis ? false : `${REDIS_BIN} not found: cluster tests skipped` }, () => {
  let redis;
  let n1;
  let n2;
  let app;
  let short;
  const open = [];
  let seq = 0;
  const uniq = (p) => `${p}-${++seq}-${crypto.randomBytes(3).toString('hex')}`;
  const sdk = (srv, a = app) => h.sdkClient(srv, a);
  const raw = async (srv, a = app) => { const c = await h.rawConnect(srv, { key: a.key }); open.push(c); return c; };
  // the first frame on ch after its subscription_succeeded
  const nextOn = (c, ch, ms = 3000) => c.next((f) => f.channel === ch && f.event !== 'pusher_internal:subscription_succeeded', ms);
  const wl = (f) => h.decodeData(f).events.map((e) => ({ name: e.name, user_ids: [...e.user_ids].sort() }))
    .sort((x, y) => x.name.localeCompare(y.name));
  const WL = 'pusher_internal:watchlist_events';

  async function signedIn(srv, userData) {
    const c = await raw(srv);
    c.send({ event: 'pusher:signin', data: sdk(srv).authenticateUser(c.socketId, userData) });
    const f = await c.next((x) => x.event === 'pusher:signin_success' || x.event === 'pusher:error', 3000);
    assert.equal(f.event, 'pusher:signin_success', f.__text);
    return c;
  }

  before(async () => {
    app = h.makeApp({});
    short = h.makeApp({ cache_ttl_seconds: 1 });
    const port = await h.freePort();
    redis = new RedisServer(port);
    await redis.start();
    const config = { redis_url: `redis://127.0.0.1:${port}`, redis_prefix: `e2e-${crypto.randomBytes(4).toString('hex')}` };
    [n1, n2] = await Promise.all([1, 2].map(() => h.startServer({ apps: [app, short], config })));
  });

  after(async () => {
    for (const c of open) c.terminate();
    for (const n of [n1, n2]) if (n && n.alive) await n.stop();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
  });

  test('cache: replayed on another node, newest event wins, cache_miss, info=cache from any node', async () => {
    const ch = `cache-${uniq('x')}`;
    await h.ok(h.rest.trigger(sdk(n1), ch, 'loc', { lat: 1.5, n: 1 }));
    const a = await raw(n2);
    assert.equal((await a.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    const f = await nextOn(a, ch);
    assert.equal(f.event, 'loc', a.historyText());
    assert.equal(f.data, '{"lat":1.5,"n":1}', 'the frame as node 1 built it');
    assert.equal(a.all('pusher:cache_miss').length, 0);

    // a newer event through node 2: a new subscriber on node 1 gets it, not node 1's own older copy
    await h.ok(h.rest.trigger(sdk(n2), ch, 'loc2', 'plain text'));
    assert.equal((await a.next('loc2', 3000)).data, 'plain text', 'live delivery still works');
    const b = await raw(n1);
    await b.subscribe(ch);
    const g = await nextOn(b, ch);
    assert.equal(g.event, 'loc2', b.historyText());
    assert.equal(g.data, 'plain text');

    for (const n of [n1, n2]) {
      const info = await h.ok(h.rest.get(sdk(n), `/channels/${ch}`, { info: 'cache' }));
      assert.ok(info.cache && info.cache.data === 'plain text', JSON.stringify(info));
      assert.ok(Number.isInteger(info.cache.ttl) && info.cache.ttl > 1790 && info.cache.ttl <= 1800, JSON.stringify(info));
    }

    // nothing cached anywhere: cache_miss right after subscription_succeeded, info=cache null
    const empty = `private-cache-${uniq('e')}`;
    const c = await raw(n2);
    assert.equal((await c.subscribeSigned(empty, sdk(n2))).event, 'pusher_internal:subscription_succeeded');
    const m = await nextOn(c, empty);
    assert.equal(m.event, 'pusher:cache_miss', c.historyText());
    assert.deepEqual(h.decodeData(m), {});
    const info = await h.ok(h.rest.get(sdk(n1), `/channels/${empty}`, { info: 'cache' }));
    assert.equal(info.cache, null, JSON.stringify(info));
  });

  test('cache: presence-cache replay on another node follows the cluster roster', async () => {
    const ch = `presence-cache-${uniq('p')}`;
    await h.ok(h.rest.trigger(sdk(n2), ch, 'state', { v: 7 }));
    const a = await raw(n1);
    const ok = await a.subscribeSigned(ch, sdk(n1), { user_id: 'pc-1' });
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded', ok.__text);
    const f = await nextOn(a, ch);
    assert.equal(f.event, 'state', a.historyText());
    assert.equal(f.data, '{"v":7}');
  });

  test('cache: cache_ttl_seconds expiry holds on every node', async () => {
    const ch = `cache-${uniq('ttl')}`;
    await h.ok(h.rest.trigger(sdk(n1, short), ch, 'tick', { t: 1 }));
    const info = await h.ok(h.rest.get(sdk(n2, short), `/channels/${ch}`, { info: 'cache' }));
    assert.ok(info.cache && info.cache.ttl === 1, JSON.stringify(info));
    const a = await raw(n2, short);
    await a.subscribe(ch);
    assert.equal((await nextOn(a, ch)).event, 'tick', a.historyText());
    await h.sleep(1300);
    for (const n of [n1, n2]) {
      const c = await raw(n, short);
      await c.subscribe(ch);
      assert.equal((await nextOn(c, ch)).event, 'pusher:cache_miss', c.historyText());
      const gone = await h.ok(h.rest.get(sdk(n, short), `/channels/${ch}`, { info: 'cache' }));
      assert.equal(gone.cache, null, JSON.stringify(gone));
    }
  });

  test('watchlist: initial state from the cluster, online / offline as the last connection anywhere goes', async () => {
    const [u, v, w] = [uniq('u'), uniq('v'), uniq('w')];
    const v1 = await signedIn(n2, { id: v }); // online on node 2 only
    await h.sleep(100); // its count reaches Redis (asynchronously, after signin_success)
    const a = await raw(n1);
    a.send({ event: 'pusher:signin', data: sdk(n1).authenticateUser(a.socketId, { id: w, watchlist: [u, v] }) });
    const okFrame = await a.next('pusher:signin_success', 3000);
    const init = await a.next(WL, 3000);
    assert.ok(a.history.indexOf(okFrame) < a.history.indexOf(init), 'signin_success comes first');
    assert.deepEqual(wl(init), [{ name: 'offline', user_ids: [u] }, { name: 'online', user_ids: [v] }]);

    // u signs in on node 2: the watcher on node 1 sees online, once
    const u2 = await signedIn(n2, { id: u });
    assert.deepEqual(wl(await a.next(WL, 3000)), [{ name: 'online', user_ids: [u] }]);
    // a second tab on node 1 (and a stranger) change nothing
    const u1 = await signedIn(n1, { id: u });
    await signedIn(n2, { id: uniq('stranger') });
    assert.ok(await a.none(WL, 400), `second tab: no event: ${a.historyText()}`);
    // a watcher on node 2 signing in now sees u online (one connection on each node)
    const b = await raw(n2);
    b.send({ event: 'pusher:signin', data: sdk(n2).authenticateUser(b.socketId, { id: uniq('w2'), watchlist: [u] }) });
    assert.deepEqual(wl(await b.next(WL, 3000)), [{ name: 'online', user_ids: [u] }]);

    // the tab on node 2 closes: u is still online on node 1
    u2.close();
    await u2.waitClose(3000);
    assert.ok(await a.none(WL, 500), `one tab left: still online: ${a.historyText()}`);
    assert.ok(await b.none(WL, 10), b.historyText());
    // the last tab (node 1) closes: offline, for watchers on both nodes
    u1.close();
    assert.deepEqual(wl(await a.next(WL, 3000)), [{ name: 'offline', user_ids: [u] }]);
    assert.deepEqual(wl(await b.next(WL, 3000)), [{ name: 'offline', user_ids: [u] }]);
    // v's only connection (node 2) goes: offline on node 1
    v1.terminate();
    assert.deepEqual(wl(await a.next(WL, 3000)), [{ name: 'offline', user_ids: [v] }]);
    // and comes back on node 1: online for the watcher on the same node, once
    await signedIn(n1, { id: v });
    assert.deepEqual(wl(await a.next(WL, 3000)), [{ name: 'online', user_ids: [v] }]);
    assert.ok(await a.none(WL, 400), a.historyText());
    assert.equal(a.all('pusher:error').length, 0, a.historyText());
  });

  test('single node behaviour kept for channels listing: #server-to-user- channels stay hidden', async () => {
    await signedIn(n1, { id: uniq('hidden') });
    const list = await h.ok(h.rest.get(sdk(n2), '/channels'));
    for (const name of Object.keys(list.channels)) assert.ok(!name.startsWith('#'), JSON.stringify(list));
  });
});
