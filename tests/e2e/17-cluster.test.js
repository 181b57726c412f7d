'use strict';
// Cluster mode (phase 1): two pushgate nodes joined by a real redis-server (Debian's
// /usr/bin/redis-server on a free port, no persistence). REST events, socket_id exclusion, client
// events, sendToUser and terminate_connections cross nodes, each exactly once; when Redis dies
// each node keeps serving its own clients and REST keeps answering; when it comes back on the
// same port, cross-node delivery resumes within seconds and nothing from the outage is replayed.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./helpers');

const { REDIS_BIN, haveRedis, RedisServer } = require('./redis-server');

test('a bad redis_url or redis_prefix stops start-up with one clear line (exit 2), never echoing the password', async () => {
  const cases = [
    [{ redis_url: 'redis://:hunter2@host:99999' }, {}, /redis_url: expected redis:\/\/\[\[user\]:password@\]host\[:port\]\[\/db\]: the port/],
    [{ redis_url: 'rediss://:hunter2@host' }, {}, /redis_url: .*rediss:\/\/ \(TLS\) is not supported/],
    [{ redis_url: 'redis://:hunter2@host' }, { PUSHGATE_REDIS_URL: 'http://:hunter2@host' }, /^pushgate: PUSHGATE_REDIS_URL: expected redis:\/\//m],
    [{ redis_prefix: 'a b' }, {}, /redis_prefix: expected 1 to 64 of/],
  ];
  for (const [config, env, re] of cases) {
    const file = h.writeConfig({ ...config, apps: [h.makeApp()] });
    const r = await h.runBinary(['--config', file], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.ok(!r.stderr.includes('hunter2'), r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

/** Events named `name` a raw client has received so far. */
const count = (c, name) => c.all(name).length;

describe('cluster over Redis', { skip: haveRedis ? false : `${REDIS_BIN} not found (apt-get install redis-server): cluster tests skipped` }, () => {
  let redis;
  let n1;
  let n2;
  const app = h.makeApp({ enable_client_messages: true });
  const open = [];
  let seq = 0;
  const uniq = (p) => `${p}-${++seq}-${crypto.randomBytes(3).toString('hex')}`;
  const raw = async (srv) => { const c = await h.rawConnect(srv, { key: app.key }); open.push(c); return c; };
  const pjs = (srv, opts = {}) => { const c = h.pusherClient(srv, { app, ...opts }); open.push(c); return c; };
  const sdk = (srv) => h.sdkClient(srv, app);

  async function rawSignedIn(srv, id) {
    const c = await raw(srv);
    c.send({ event: 'pusher:signin', data: sdk(srv).authenticateUser(c.socketId, { id }) });
    const f = await c.next((x) => x.event === 'pusher:signin_success' || x.event === 'pusher:error', 3000);
    assert.equal(f.event, 'pusher:signin_success', f.__text);
    return c;
  }

  before(async () => {
    const port = await h.freePort();
    redis = new RedisServer(port);
    await redis.start();
    const config = { redis_url: `redis://127.0.0.1:${port}`, redis_prefix: `e2e-${crypto.randomBytes(4).toString('hex')}` };
    [n1, n2] = await Promise.all([
      h.startServer({ apps: [app], config }),
      h.startServer({ apps: [app], config }),
    ]);
    for (const n of [n1, n2]) assert.match(n.stderr, /linked to Redis at 127\.0\.0\.1:\d+/, n.tail());
  });

  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    // Nodes first, while Redis is up: a clean, quick exit is part of the contract.
    if (n1) await n1.stop();
    if (n2) await n2.stop();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
  });

  test('a REST event on node 1 reaches pusher-js subscribers on node 1 and node 2, each exactly once', async () => {
    const ch = uniq('news');
    const a = pjs(n1);
    const b = pjs(n2);
    const b2 = pjs(n2);
    const recs = [];
    for (const c of [a, b, b2]) recs.push(h.recorder((await h.subscribe(c, ch)).channel));
    const r = await h.rest.trigger(sdk(n1), ch, 'headline', { n: 1 });
    assert.equal(r.status, 200, r.text);
    for (const rec of recs) assert.deepEqual((await rec.wait('headline', 3000)).data, { n: 1 });
    // and the other way round, several channels at once
    const r2 = await h.rest.trigger(sdk(n2), [ch, uniq('empty')], 'headline', { n: 2 });
    assert.equal(r2.status, 200, r2.text);
    for (const rec of recs) await rec.wait((e) => e.event === 'headline' && e.data.n === 2, 3000, 'second event');
    await h.sleep(400);
    for (const rec of recs) assert.deepEqual(rec.named('headline').map((e) => e.data.n), [1, 2], 'exactly once, in order');
  });

  test('socket_id exclusion works across nodes', async () => {
    const ch = uniq('excl');
    const x = await raw(n2); // excluded, on the other node
    const y = await raw(n2);
    const z = await raw(n1);
    for (const c of [x, y, z]) assert.equal((await c.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    const r = await h.rest.trigger(sdk(n1), ch, 'ping', 'hello', { socket_id: x.socketId });
    assert.equal(r.status, 200, r.text);
    assert.equal((await y.next('ping', 3000)).data, 'hello');
    assert.equal((await z.next('ping', 3000)).data, 'hello');
    assert.ok(await x.none('ping', 500), 'the excluded socket on node 2 got nothing');
    // excluding a socket of node 1 from node 2 as well
    const r2 = await h.rest.trigger(sdk(n2), ch, 'ping2', 'again', { socket_id: z.socketId });
    assert.equal(r2.status, 200, r2.text);
    await x.next('ping2', 3000);
    await y.next('ping2', 3000);
    assert.ok(await z.none('ping2', 500), 'the excluded socket on node 1 got nothing');
  });

  test('client events from node 1 reach a subscriber on node 2, once, and are not echoed', async () => {
    const ch = `private-${uniq('chat')}`;
    const sender = pjs(n1);
    const peer1 = pjs(n1);
    const peer2 = pjs(n2);
    const recs = [];
    for (const c of [sender, peer1, peer2]) recs.push(h.recorder((await h.subscribe(c, ch)).channel));
    sender.channel(ch).trigger('client-typing', { who: 'a', seq: 1 });
    for (const rec of recs.slice(1)) assert.deepEqual((await rec.wait('client-typing', 3000)).data, { who: 'a', seq: 1 });
    await h.sleep(400);
    assert.equal(recs[0].named('client-typing').length, 0, 'the sender does not get its own event back');
    assert.equal(recs[1].named('client-typing').length, 1);
    assert.equal(recs[2].named('client-typing').length, 1, 'node 2 got it exactly once');
  });

  test('sendToUser on node 2 reaches the user signed in on node 1 (and only them)', async () => {
    const id = uniq('user');
    const tab = pjs(n1, { user: { id } });
    const rawTab = await rawSignedIn(n1, id);
    const other = await rawSignedIn(n1, uniq('other'));
    tab.signin();
    await h.withTimeout(tab.user.signinDonePromise, 5000, 'pusher-js signin');
    await h.eventually(() => tab.user.serverToUserChannel && tab.user.serverToUserChannel.subscribed, { timeoutMs: 5000, what: '#server-to-user- subscribed' });
    const got = [];
    tab.user.bind('direct', (d) => got.push(d));
    const r = await h.sdkCall('POST', () => sdk(n2).sendToUser(id, 'direct', { hi: 1 }));
    assert.equal(r.status, 200, r.text);
    await h.eventually(() => got.length === 1, { timeoutMs: 3000, what: 'pusher-js user event from node 2' });
    assert.deepEqual(got[0], { hi: 1 });
    const f = await rawTab.next('direct', 3000);
    assert.equal(f.channel, `#server-to-user-${id}`);
    assert.equal(f.data, '{"hi":1}');
    await h.sleep(300);
    assert.equal(got.length, 1, 'exactly once');
    assert.equal(count(other, 'direct'), 0, 'another user gets nothing');
  });

  test('terminateUserConnections on node 1 closes the user\'s connections on node 2 (and node 1) with 4009', async () => {
    const id = uniq('term');
    const far = await rawSignedIn(n2, id);
    const near = await rawSignedIn(n1, id);
    const keep = await rawSignedIn(n2, uniq('keep'));
    const r = await h.rest.terminate(sdk(n1), id);
    assert.equal(r.status, 200, r.text);
    for (const c of [far, near]) {
      const e = await c.next('pusher:error', 3000);
      assert.equal(e.data.code, 4009, e.__text);
      assert.equal((await c.waitClose(3000)).code, 4009);
    }
    assert.ok(keep.isOpen, 'another user on node 2 is not affected');
    await keep.ping();
  });

  test('Redis outage: each node keeps serving locally, REST answers; on restart cross-node delivery resumes', async () => {
    const ch = uniq('outage');
    const a = await raw(n1);
    const b = await raw(n2);
    for (const c of [a, b]) assert.equal((await c.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    const r0 = await h.rest.trigger(sdk(n1), ch, 'before', 1);
    assert.equal(r0.status, 200, r0.text);
    await b.next('before', 3000);

    await redis.kill();
    for (const n of [n1, n2]) {
      await h.eventually(() => /lost Redis at 127\.0\.0\.1/.test(n.stderr), { timeoutMs: 5000, what: `outage logged by node on ${n.port}` });
    }
    // Local delivery and REST go on, on both nodes.
    const r1 = await h.rest.trigger(sdk(n1), ch, 'during', 'from-n1');
    assert.equal(r1.status, 200, r1.text);
    assert.equal((await a.next('during', 3000)).data, 'from-n1');
    const r2 = await h.rest.trigger(sdk(n2), ch, 'during', 'from-n2');
    assert.equal(r2.status, 200, r2.text);
    assert.equal((await b.next('during', 3000)).data, 'from-n2');
    // Channel queries are cluster-wide (phase 2): without Redis they answer 503, never a
    // node-local answer that would look like the cluster's.
    const list = await h.rest.get(sdk(n2), '/channels');
    assert.equal(list.status, 503, list.text);
    assert.deepEqual(list.body, { error: 'cluster state unavailable' });
    // Client events stay local too.
    const x1 = await raw(n1);
    const x2 = await raw(n1);
    const pch = `private-${uniq('p')}`;
    for (const c of [x1, x2]) assert.equal((await c.subscribeSigned(pch, sdk(n1))).event, 'pusher_internal:subscription_succeeded');
    x1.send({ event: 'client-local', channel: pch, data: { k: 1 } });
    assert.deepEqual((await x2.next('client-local', 3000)).data, { k: 1 });

    // Redis comes back on the same port: delivery across nodes resumes within seconds.
    const t0 = Date.now();
    await redis.start();
    let tries = 0;
    await h.eventually(async () => {
      tries += 1;
      const r = await h.rest.trigger(sdk(n1), ch, 'after', tries);
      assert.equal(r.status, 200, r.text);
      return b.all('after').length > 0;
    }, { timeoutMs: 10000, intervalMs: 250, what: 'cross-node delivery after the Redis restart' });
    const resumed = Date.now() - t0;
    assert.ok(resumed < 8000, `resumed after ${resumed} ms`);
    for (const n of [n1, n2]) {
      await h.eventually(() => /Redis link back after/.test(n.stderr), { timeoutMs: 5000, what: `reconnect logged by node on ${n.port}` });
      assert.equal((n.stderr.match(/lost Redis at/g) || []).length, 1, 'the outage is logged once');
    }
    // Both directions, and nothing from the outage is replayed.
    const r3 = await h.rest.trigger(sdk(n2), ch, 'after2', 'x');
    assert.equal(r3.status, 200, r3.text);
    await a.next('after2', 3000);
    assert.equal(count(b, 'during'), 1, 'node 2 got only its own outage event');
    assert.equal(count(a, 'during'), 1, 'node 1 got only its own outage event');
    // The drops are counted, not silent.
    const m = (await h.httpGet(n1, '/metrics')).text;
    const metric = (re) => Number((m.match(re) || [])[1]);
    assert.equal(metric(/^pushgate_cluster_up (\d+)$/m), 1, m);
    assert.ok(metric(/^pushgate_cluster_dropped_total\{reason="link_down"\} (\d+)$/m) >= 2, m);
    assert.equal(metric(/^pushgate_cluster_reconnects_total (\d+)$/m), 1, m);
    assert.ok(metric(/^pushgate_cluster_received_total (\d+)$/m) >= 1, m);
  });
});
