'use strict';
// Cluster mode: state transitions that cross nodes or outlive a cut. Two pushgate nodes per group
// and a real redis-server (no persistence).
//
// * Webhook debounce is cluster-wide: a vacate (member leave) on node 1 undone by a re-occupy
//   (re-join) on node 2 within webhook_debounce_ms sends neither webhook; a real leave is sent once,
//   after the debounce, by whichever node's periodic run takes it from Redis.
// * A repeated presence subscribe of one socket answers with the cluster's roster.
// * max_connections counts the cluster's connections (exchanged every heartbeat).
// * Changes made while the nodes were cut off from a Redis that kept its data (one TCP proxy per
//   node in front of Redis drops every connection and refuses new ones, so the order in which the
//   nodes get their link back is chosen) reach the other nodes' clients once the link is back: as
//   member_removed / member_added when the other node is linked at that moment, else (the node
//   where they happened relinks first) through the fresh subscription_succeeded roster the other
//   node sends its clients when it relinks; after a Redis restart that lost everything the state
//   (REST and the clients' rosters) is rebuilt to what is connected.
// * A node taken for dead while alive (SIGSTOP past the reap time) is reaped (member_removed) and,
//   when it runs again, rejoins with its members announced (member_added).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');

const h = require('./helpers');

const { REDIS_BIN, haveRedis, RedisServer } = require('./redis-server');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const skip = haveRedis ? false : `${REDIS_BIN} not found: cluster tests skipped`;
let seq = 0;
const uniq = (p) => `${p}-${++seq}-${crypto.randomBytes(3).toString('hex')}`;
const ids = (members) => Object.keys(members.members).sort();
const roster = (f) => h.decodeData(f).presence.ids.slice().sort();

/**
 * A TCP proxy in front of Redis: cut() drops every connection through it and refuses new ones
 * (accepted, then closed at once) until restore(). Redis itself keeps running with its data.
 * When Redis is down the proxy closes what it accepts, as a refused connection would look.
 */
async function redisProxy(targetPort) {
  const p = { port: await h.freePort(), cutOff: false, pairs: new Set(), accepted: 0 };
  p.server = net.createServer((client) => {
    p.accepted += 1;
    if (p.cutOff) { client.destroy(); return; }
    const up = net.connect({ host: h.HOST, port: targetPort });
    const pair = { client, up };
    p.pairs.add(pair);
    const done = () => { p.pairs.delete(pair); client.destroy(); up.destroy(); };
    client.on('error', done);
    up.on('error', done);
    client.on('close', done);
    up.on('close', done);
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise((resolve) => p.server.listen(p.port, h.HOST, resolve));
  p.cut = () => {
    p.cutOff = true;
    for (const { client, up } of [...p.pairs]) { client.destroy(); up.destroy(); }
    p.pairs.clear();
  };
  p.restore = () => { p.cutOff = false; };
  p.close = async () => {
    p.cut();
    await new Promise((resolve) => p.server.close(resolve));
  };
  return p;
}

// ------------------------------------------------------------------------------------------------

describe('cluster-wide debounce, presence re-subscribe and max_connections', { skip }, () => {
  const DEB = 1500;
  let redis;
  let hooks;
  let n1;
  let n2;
  let app;
  let lim;
  const open = [];
  const sdk = (srv, a = app) => h.sdkClient(srv, a);
  const raw = async (srv, a = app, opts = {}) => { const c = await h.rawConnect(srv, { key: a.key, ...opts }); open.push(c); return c; };
  const pjs = (srv, user) => {
    const c = h.pusherClient(srv, { app, presence: user && { user_id: user, user_info: { name: `N-${user}` } } });
    open.push(c);
    return c;
  };
  const get = (srv, p, params) => h.ok(h.rest.get(sdk(srv), p, params));
  const users = async (srv, ch) => (await get(srv, `/channels/${ch}/users`)).users.map((u) => u.id).sort();

  before(async () => {
    hooks = await h.webhookReceiver();
    app = h.makeApp({
      webhooks: [{ url: hooks.url(), event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }],
    });
    lim = h.makeApp({ max_connections: 3 });
    const port = await h.freePort();
    redis = new RedisServer(port);
    await redis.start();
    const config = {
      redis_url: `redis://127.0.0.1:${port}`,
      redis_prefix: `e2e-${crypto.randomBytes(4).toString('hex')}`,
      webhook_debounce_ms: DEB,
      webhook_batch_ms: 20,
    };
    [n1, n2] = await Promise.all([1, 2].map(() => h.startServer({ apps: [app, lim], config })));
  });

  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    for (const n of [n1, n2]) if (n && n.alive) await n.stop();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
    if (hooks) await hooks.close();
  });

  test('vacated on node 1, re-occupied on node 2 within the debounce: no webhook; the real vacate is sent once, after the debounce', async () => {
    const ch = uniq('deb');
    const a = await raw(n1);
    assert.equal((await a.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    await h.eventually(() => hooks.of('channel_occupied', ch).length === 1, { timeoutMs: 3000, what: 'channel_occupied' });

    a.unsubscribe(ch);
    const tLeave = Date.now();
    // The vacate has reached the cluster state (seen from node 2) before node 2 re-occupies.
    await h.eventually(async () => (await get(n2, `/channels/${ch}`)).occupied === false,
      { timeoutMs: 1000, intervalMs: 25, what: 'channel vacated cluster-wide' });
    await sleep(Math.max(0, 300 - (Date.now() - tLeave)));
    const b = await raw(n2);
    assert.equal((await b.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    assert.ok(Date.now() - tLeave < DEB - 300, `re-occupied ${Date.now() - tLeave} ms after the vacate (must be well within the debounce)`);

    await sleep(DEB + 2000);
    assert.equal(hooks.of('channel_vacated', ch).length, 0, `no channel_vacated for a vacate undone on another node: ${hooks.about(ch)}`);
    assert.equal(hooks.of('channel_occupied', ch).length, 1, `no second channel_occupied: ${hooks.about(ch)}`);

    b.unsubscribe(ch);
    const tReal = Date.now();
    const v = await h.eventually(() => hooks.of('channel_vacated', ch)[0], { timeoutMs: DEB + 4000, intervalMs: 20, what: 'the real channel_vacated' });
    const waited = v.at - tReal;
    assert.ok(waited >= DEB - 200, `channel_vacated came ${waited} ms after the leave: it must wait webhook_debounce_ms (${DEB})`);
    await sleep(1500);
    assert.equal(hooks.of('channel_vacated', ch).length, 1, `exactly one channel_vacated: ${hooks.about(ch)}`);
    assert.equal(hooks.of('channel_occupied', ch).length, 1, hooks.about(ch));
  });

  test('presence: a user leaving on node 1 and re-joining on node 2 within the debounce sends no member webhook; the real leave is sent once', async () => {
    const ch = `presence-${uniq('deb')}`;
    // V on node 2 keeps the channel occupied throughout, so only member webhooks are in play.
    const v = await raw(n2);
    assert.equal((await v.subscribeSigned(ch, sdk(n2), { user_id: 'V' })).event, 'pusher_internal:subscription_succeeded');
    const u1 = await raw(n1);
    const f1 = await u1.subscribeSigned(ch, sdk(n1), { user_id: 'U' });
    assert.equal(f1.event, 'pusher_internal:subscription_succeeded', f1.__text);
    assert.deepEqual(roster(f1), ['U', 'V']);
    await h.eventually(() => hooks.of('member_added', ch, 'U').length === 1 && hooks.of('member_added', ch, 'V').length === 1,
      { timeoutMs: 3000, what: `member_added U and V (${hooks.about(ch)})` });

    u1.terminate(); // U's only connection goes away on node 1 ...
    const tLeave = Date.now();
    await h.eventually(async () => !(await users(n2, ch)).includes('U'),
      { timeoutMs: 1000, intervalMs: 25, what: 'U gone from the cluster roster' });
    await sleep(Math.max(0, 300 - (Date.now() - tLeave)));
    const u2 = await raw(n2); // ... and is back on node 2 within the debounce
    const f2 = await u2.subscribeSigned(ch, sdk(n2), { user_id: 'U' });
    assert.equal(f2.event, 'pusher_internal:subscription_succeeded', f2.__text);
    assert.deepEqual(roster(f2), ['U', 'V']);
    assert.ok(Date.now() - tLeave < DEB - 300, `re-joined ${Date.now() - tLeave} ms after the leave (must be well within the debounce)`);

    await sleep(DEB + 2000);
    assert.equal(hooks.of('member_removed', ch, 'U').length, 0, `no member_removed for a leave undone on another node: ${hooks.about(ch)}`);
    assert.equal(hooks.of('member_added', ch, 'U').length, 1, `no second member_added: ${hooks.about(ch)}`);
    assert.equal(hooks.of('channel_vacated', ch).length, 0, hooks.about(ch));

    u2.terminate();
    const tReal = Date.now();
    const m = await h.eventually(() => hooks.of('member_removed', ch, 'U')[0], { timeoutMs: DEB + 4000, intervalMs: 20, what: 'the real member_removed U' });
    assert.ok(m.at - tReal >= DEB - 200, `member_removed came ${m.at - tReal} ms after the leave: it must wait webhook_debounce_ms (${DEB})`);
    await sleep(1500);
    assert.equal(hooks.of('member_removed', ch, 'U').length, 1, `exactly one member_removed U: ${hooks.about(ch)}`);
    assert.equal(hooks.of('member_added', ch, 'U').length, 1, hooks.about(ch));
    assert.equal(hooks.of('member_removed', ch, 'V').length, 0, hooks.about(ch));
    assert.equal(hooks.of('channel_vacated', ch).length, 0, 'V is still there');
  });

  test('with two nodes running, each debounced vacate and member_removed is sent exactly once', async () => {
    const chans = [1, 2, 3, 4].map(() => uniq('once'));
    const pch = `presence-${uniq('once')}`;
    const a = await raw(n1);
    const b = await raw(n2);
    for (const ch of chans) {
      assert.equal((await a.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
      assert.equal((await b.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
    }
    assert.equal((await a.subscribeSigned(pch, sdk(n1), { user_id: 'P1' })).event, 'pusher_internal:subscription_succeeded');
    assert.equal((await b.subscribeSigned(pch, sdk(n2), { user_id: 'P2' })).event, 'pusher_internal:subscription_succeeded');
    await h.eventually(() => chans.every((ch) => hooks.of('channel_occupied', ch).length === 1) && hooks.of('member_added', pch).length === 2,
      { timeoutMs: 3000, what: 'occupied and member_added webhooks' });

    // The last leaves happen on alternating nodes: half the vacates are queued by node 1, half by node 2.
    for (const [i, ch] of chans.entries()) {
      (i % 2 ? a : b).unsubscribe(ch);
      (i % 2 ? b : a).unsubscribe(ch);
    }
    a.unsubscribe(pch); // P1 leaves (the channel stays occupied by P2)
    const t0 = Date.now();
    await h.eventually(() => chans.every((ch) => hooks.of('channel_vacated', ch).length >= 1) && hooks.of('member_removed', pch, 'P1').length >= 1,
      { timeoutMs: DEB + 4000, intervalMs: 20, what: `every channel_vacated and member_removed P1 (${JSON.stringify(hooks.timed().slice(-12))})` });
    for (const ch of chans) assert.ok(hooks.of('channel_vacated', ch)[0].at - t0 >= DEB - 200, `vacated ${ch} waited the debounce`);
    await sleep(2500); // more than a heartbeat: every node's periodic run has had its turn
    for (const ch of chans) {
      assert.equal(hooks.of('channel_vacated', ch).length, 1, `exactly one channel_vacated for ${ch}: ${hooks.about(ch)}`);
      assert.equal(hooks.of('channel_occupied', ch).length, 1, hooks.about(ch));
    }
    assert.equal(hooks.of('member_removed', pch, 'P1').length, 1, `exactly one member_removed P1: ${hooks.about(pch)}`);
    assert.equal(hooks.of('member_removed', pch, 'P2').length, 0, hooks.about(pch));
    assert.equal(hooks.of('channel_vacated', pch).length, 0, hooks.about(pch));
  });

  test('a repeated presence subscribe of one socket answers with the cluster\'s roster', async () => {
    const ch = `presence-${uniq('room')}`;
    const a = pjs(n1, 'A');
    const sa = await h.subscribe(a, ch);
    assert.deepEqual(ids(sa.channel.members), ['A']);
    const b = await raw(n2);
    const first = await b.subscribeSigned(ch, sdk(n2), { user_id: 'B', user_info: { name: 'N-B' } });
    assert.equal(first.event, 'pusher_internal:subscription_succeeded', first.__text);
    assert.deepEqual(roster(first), ['A', 'B']);
    await h.eventually(() => ids(sa.channel.members).includes('B'), { timeoutMs: 3000, what: 'A sees B' });

    const again = await b.subscribeSigned(ch, sdk(n2), { user_id: 'B', user_info: { name: 'N-B' } });
    assert.equal(again.event, 'pusher_internal:subscription_succeeded', again.__text);
    assert.equal(again.channel, ch);
    const p = h.decodeData(again).presence;
    assert.deepEqual(p.ids.slice().sort(), ['A', 'B'], `the repeat must carry the cluster's roster, got ${again.__text}`);
    assert.equal(p.count, 2, again.__text);
    assert.deepEqual(Object.keys(p.hash).sort(), ['A', 'B'], again.__text);
    assert.deepEqual(p.hash.A, { name: 'N-A' }, again.__text);
    // Still one member each: the repeat changed nothing.
    assert.ok(await b.none((f) => f.event && f.event.startsWith('pusher_internal:member_'), 300));
    assert.deepEqual(await users(n1, ch), ['A', 'B']);
    h.disconnectAll(a);
  });

  test('max_connections counts the cluster\'s connections: a 4th is refused 4004 on either node; a freed place is admitted', async () => {
    const c1 = await raw(n1, lim);
    const c2 = await raw(n1, lim);
    const c3 = await raw(n2, lim);
    await sleep(3000); // connection counts travel with the 2 s heartbeat

    for (const n of [n2, n1]) {
      const d = await raw(n, lim, { established: false });
      const e = await d.next(() => true, 3000);
      assert.equal(e.event, 'pusher:error', `the 4th connection (on node ${n === n1 ? 1 : 2}) must be refused: ${e.__text}`);
      assert.equal(e.data.code, 4004, e.__text);
      assert.equal((await d.waitClose(3000)).code, 4004);
    }
    for (const c of [c1, c2, c3]) {
      assert.ok(c.isOpen, 'the admitted connections stay');
      await c.ping();
    }

    c1.close();
    await c1.waitClose(3000);
    const tFree = Date.now();
    await sleep(3000);
    // A place freed on node 1 is usable on node 2 once the heartbeat has carried the count (a
    // refused try is closed by the server and takes no place).
    const fresh = await h.eventually(async () => {
      const d = await raw(n2, lim, { established: false });
      const f = await d.next(() => true, 3000);
      return f.event === 'pusher:connection_established' ? d : null;
    }, { timeoutMs: 3000, intervalMs: 200, what: 'a place freed on node 1 is usable on node 2' });
    assert.ok(Date.now() - tFree < 6000, `admitted ${Date.now() - tFree} ms after the close`);
    assert.ok(fresh.isOpen);
    // ... and the cluster is full again: a 4th on node 1 is refused.
    await sleep(3000);
    const over = await raw(n1, lim, { established: false });
    const e2 = await over.next(() => true, 3000);
    assert.equal(e2.event, 'pusher:error', `cluster full again (node 1: 1, node 2: 2): ${e2.__text}`);
    assert.equal(e2.data.code, 4004, e2.__text);
  });
});

// ------------------------------------------------------------------------------------------------

describe('presence changes during a Redis outage', { skip }, () => {
  let redis;
  let proxies = []; // one per node: node i reaches Redis through proxies[i]
  let n1;
  let n2;
  let app;
  const open = [];
  const sdk = (srv) => h.sdkClient(srv, app);
  const pjs = (srv, user) => {
    const c = h.pusherClient(srv, { app, presence: { user_id: user, user_info: { name: `N-${user}` } } });
    open.push(c);
    return c;
  };
  const users = async (srv, ch) => {
    const r = await h.rest.get(sdk(srv), `/channels/${ch}/users`);
    return r.status === 200 ? r.body.users.map((u) => u.id).sort() : `status ${r.status}`;
  };
  const lostCount = (n) => (n.stderr.match(/lost Redis at/g) || []).length;

  before(async () => {
    app = h.makeApp();
    const port = await h.freePort();
    redis = new RedisServer(port);
    await redis.start();
    proxies = [await redisProxy(port), await redisProxy(port)];
    const prefix = `e2e-${crypto.randomBytes(4).toString('hex')}`;
    [n1, n2] = await Promise.all(proxies.map((px) => h.startServer({ apps: [app], config: { redis_url: `redis://127.0.0.1:${px.port}`, redis_prefix: prefix } })));
    for (const n of [n1, n2]) {
      await h.eventually(() => /linked to Redis at/.test(n.stderr), { timeoutMs: 5000, what: 'linked to Redis' });
    }
  });

  after(async () => {
    for (const c of open) h.disconnectAll(c);
    for (const px of proxies) px.restore();
    for (const n of [n1, n2]) if (n && n.alive) await n.stop();
    for (const px of proxies) await px.close();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
  });

  const backCount = (n) => (n.stderr.match(/Redis link back after/g) || []).length;

  /**
   * X on node 1 and Y on node 2 share a presence channel; both nodes are cut off from Redis (which
   * keeps its data); X leaves and Z joins on node 1 meanwhile; then the nodes get their link back
   * in the given order, the second one only after the first has re-registered (1 s later). Y on
   * node 2 must be told member_removed X and member_added Z, once each.
   */
  async function outageAnnounced(order) {
    const ch = `presence-${uniq('cut')}`;
    const x = pjs(n1, 'X');
    await h.subscribe(x, ch);
    const y = pjs(n2, 'Y');
    const sy = await h.subscribe(y, ch);
    const recY = h.recorder(sy.channel);
    assert.deepEqual(ids(sy.channel.members), ['X', 'Y']);
    await h.eventually(() => ids(x.channel(ch).members).includes('Y'), { timeoutMs: 3000, what: 'X sees Y' });

    const nodes = [n1, n2];
    const lost0 = nodes.map(lostCount);
    const back0 = nodes.map(backCount);
    for (const px of proxies) px.cut();
    const tCut = Date.now();
    let tBack;
    let z;
    try {
      for (const [i, n] of nodes.entries()) {
        await h.eventually(() => lostCount(n) > lost0[i], { timeoutMs: 3000, intervalMs: 20, what: `node ${i + 1} notices the cut` });
      }
      h.disconnectAll(x); // X leaves on node 1 ...
      z = pjs(n1, 'Z'); // ... and Z joins on node 1, both while Redis is unreachable
      const sz = await h.subscribe(z, ch);
      assert.ok(ids(sz.channel.members).includes('Z'));
      await sleep(Math.max(300, 2500 - (Date.now() - tCut)));
      assert.equal(recY.named('pusher:member_removed').length + recY.named('pusher:member_added').length, 0,
        'nothing can cross nodes while they are cut off');
      const [first, second] = order;
      proxies[first].restore();
      await h.eventually(() => backCount(nodes[first]) > back0[first], { timeoutMs: 4000, intervalMs: 20, what: `node ${first + 1} links again` });
      await sleep(1000);
      proxies[second].restore();
      tBack = Date.now();
      await h.eventually(() => backCount(nodes[second]) > back0[second], { timeoutMs: 4000, intervalMs: 20, what: `node ${second + 1} links again` });
    } finally {
      for (const px of proxies) px.restore();
    }
    assert.ok(tBack - tCut < 7500, `the cut lasted ${tBack - tCut} ms (must stay under the 8 s node expiry)`);

    // The state first: REST from both nodes, and both clients' rosters (Z joined during the cut
    // with node 1's roster only; Y still listed X).
    const evs = () => JSON.stringify(recY.events.map((e) => [e.event, e.data && e.data.id]));
    for (const n of nodes) {
      await h.eventually(async () => (await users(n, ch)).join() === 'Y,Z', { timeoutMs: 6000, intervalMs: 100, what: `users Y,Z from node ${n === n1 ? 1 : 2} (last: ${await users(n, ch)})` });
    }
    const rosterIs = (c, who) => () => {
      const r = ids(c.channel(ch).members).join();
      if (r !== 'Y,Z') throw new Error(`${who}'s roster is ${r}; Y got ${evs()}`);
      return true;
    };
    await h.eventually(rosterIs(y, 'Y'), { timeoutMs: Math.max(100, 6000 - (Date.now() - tBack)), what: 'Y\'s pusher-js roster Y,Z' });
    await h.eventually(rosterIs(z, 'Z'), { timeoutMs: Math.max(100, 6000 - (Date.now() - tBack)), what: 'Z\'s pusher-js roster Y,Z' });
    // Then the announcements themselves. When node 2 (Y's) relinked first, it was linked when node
    // 1 announced what changed on it, so Y is told who left and who came. When node 1 relinked
    // first, its announcements went out while node 2 was still cut off: Y's roster is then made
    // whole by the fresh subscription_succeeded node 2 sends when it relinks (checked above), and
    // Y must not be told anything wrong.
    if (order[0] === 0) {
      await sleep(700);
      const wrong = recY.events.filter((e) => (e.event === 'pusher:member_added' && e.data.id !== 'Z') ||
        (e.event === 'pusher:member_removed' && e.data.id !== 'X'));
      assert.deepEqual(wrong, [], `no wrong member event (Y got ${evs()})`);
      assert.ok(recY.named('pusher:subscription_succeeded').length >= 1, `Y got a fresh roster (Y got ${evs()})`);
      assert.deepEqual(ids(y.channel(ch).members), ['Y', 'Z'], 'pusher-js on node 2 has the right roster');
      h.disconnectAll(y, z);
      return;
    }
    const removed = await recY.wait((e) => e.event === 'pusher:member_removed' && e.data.id === 'X',
      Math.max(100, 6000 - (Date.now() - tBack)), `member_removed X announced after the outage (Y got ${evs()})`);
    const added = await recY.wait((e) => e.event === 'pusher:member_added' && e.data.id === 'Z',
      Math.max(100, 6000 - (Date.now() - tBack)), `member_added Z announced after the outage (Y got ${evs()})`);
    assert.ok(removed);
    assert.deepEqual(added.data.info, { name: 'N-Z' });
    await sleep(700);
    assert.deepEqual(recY.named('pusher:member_removed').map((e) => e.data.id), ['X'], `member_removed X once (Y got ${evs()})`);
    assert.deepEqual(recY.named('pusher:member_added').map((e) => e.data.id), ['Z'], `member_added Z once, nothing else repeated (Y got ${evs()})`);
    assert.deepEqual(ids(y.channel(ch).members), ['Y', 'Z'], 'pusher-js on node 2 has the right roster');
    h.disconnectAll(y, z);
  }

  test('Redis kept its data: changes made while the nodes were cut off are announced when the link is back (node 2 relinks first)', async () => {
    await outageAnnounced([1, 0]);
  });

  test('Redis kept its data: changes made while the nodes were cut off are announced when the link is back (node 1, where they happened, relinks first)', async () => {
    await outageAnnounced([0, 1]);
  });

  test('Redis restarted empty: the rebuilt rosters list exactly the users still connected', async () => {
    const ch = `presence-${uniq('empty')}`;
    const q = pjs(n1, 'Q');
    await h.subscribe(q, ch);
    const x = pjs(n1, 'X');
    await h.subscribe(x, ch);
    const y = pjs(n2, 'Y');
    const sy = await h.subscribe(y, ch);
    assert.deepEqual(ids(sy.channel.members), ['Q', 'X', 'Y']);

    const lost0 = [n1, n2].map(lostCount);
    await redis.kill();
    for (const [i, n] of [n1, n2].entries()) {
      await h.eventually(() => lostCount(n) > lost0[i], { timeoutMs: 5000, intervalMs: 20, what: `node ${i + 1} notices the Redis crash` });
    }
    h.disconnectAll(x); // X leaves during the outage
    await sleep(500);
    await redis.start(); // a fresh, empty Redis on the same port
    for (const [i, n] of [n2, n1].entries()) {
      await h.eventually(async () => (await users(n, ch)).join() === 'Q,Y',
        { timeoutMs: 8000, intervalMs: 100, what: `users Q,Y from node ${i ? 1 : 2} after the empty restart (last: ${await users(n, ch)})` });
    }
    const info = await h.ok(h.rest.get(sdk(n2), `/channels/${ch}`, { info: 'user_count' }));
    assert.equal(info.user_count, 2);
    // The clients' member lists are made whole too (by whatever means: events or a fresh roster).
    await h.eventually(() => ids(sy.channel.members).join() === 'Q,Y',
      { timeoutMs: 8000, intervalMs: 100, what: 'Y\'s pusher-js roster Q,Y after the empty restart' });
    // The rebuilt state works: Q leaves, Y is told.
    const recY = h.recorder(sy.channel);
    h.disconnectAll(q);
    await recY.wait((e) => e.event === 'pusher:member_removed' && e.data.id === 'Q', 4000, 'member_removed Q after the rebuild');
    assert.deepEqual(await users(n2, ch), ['Y']);
  });
});

// ------------------------------------------------------------------------------------------------

describe('a node taken for dead while alive', { skip }, () => {
  let redis;
  let n1;
  let n2;
  let app;
  const open = [];
  const sdk = (srv) => h.sdkClient(srv, app);
  const pjs = (srv, user) => {
    const c = h.pusherClient(srv, { app, presence: { user_id: user, user_info: { name: `N-${user}` } } });
    open.push(c);
    return c;
  };
  const users = async (srv, ch) => (await h.ok(h.rest.get(sdk(srv), `/channels/${ch}/users`))).users.map((u) => u.id).sort();
  const cont = () => { if (n1 && n1.alive) { try { n1.proc.kill('SIGCONT'); } catch (_) { /* gone */ } } };

  before(async () => {
    app = h.makeApp();
    const port = await h.freePort();
    redis = new RedisServer(port);
    await redis.start();
    const config = { redis_url: `redis://127.0.0.1:${port}`, redis_prefix: `e2e-${crypto.randomBytes(4).toString('hex')}` };
    [n1, n2] = await Promise.all([1, 2].map(() => h.startServer({ apps: [app], config })));
  });

  after(async () => {
    cont();
    for (const c of open) h.disconnectAll(c);
    for (const n of [n1, n2]) if (n && n.alive) await n.stop();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
  });

  test('SIGSTOP past the reap time: its members are removed; after SIGCONT they are announced again', async () => {
    const ch = `presence-${uniq('stop')}`;
    const x = pjs(n1, 'X');
    const sx = await h.subscribe(x, ch);
    const y = pjs(n2, 'Y');
    const sy = await h.subscribe(y, ch);
    const recX = h.recorder(sx.channel);
    const recY = h.recorder(sy.channel);
    assert.deepEqual(ids(sy.channel.members), ['X', 'Y']);
    await h.eventually(() => ids(sx.channel.members).includes('Y'), { timeoutMs: 3000, what: 'X sees Y' });

    const t0 = Date.now();
    n1.proc.kill('SIGSTOP');
    try {
      await recY.wait((e) => e.event === 'pusher:member_removed' && e.data.id === 'X', 12000, 'member_removed X after node 1 stopped');
      const took = Date.now() - t0;
      assert.ok(took >= 5000, `reaped ${took} ms after the stop: a node is taken for dead only 8 s after its last heartbeat`);
      assert.deepEqual(await users(n2, ch), ['Y'], 'the reaped node\'s member is gone from the cluster roster');
      await sleep(Math.max(0, 13000 - (Date.now() - t0)));
    } finally {
      n1.proc.kill('SIGCONT');
    }
    const tCont = Date.now();
    await recY.wait((e) => e.event === 'pusher:member_added' && e.data.id === 'X', 5000, 'member_added X after node 1 runs again');
    assert.ok(Date.now() - tCont < 5500);
    const added = recY.named('pusher:member_added').find((e) => e.data.id === 'X');
    assert.deepEqual(added.data.info, { name: 'N-X' });
    await h.eventually(async () => (await users(n2, ch)).join() === 'X,Y', { timeoutMs: 3000, what: 'users X,Y from node 2' });
    assert.deepEqual(await users(n1, ch), ['X', 'Y']);

    // The rejoined node is a full member again: events cross both ways.
    await h.eventually(async () => {
      const r = await h.rest.trigger(sdk(n2), ch, 'after-stop', { n: 1 });
      assert.equal(r.status, 200, r.text);
      return recX.named('after-stop').length > 0;
    }, { timeoutMs: 5000, intervalMs: 300, what: 'a REST event on node 2 reaches X on node 1 after the rejoin' });
    const r = await h.rest.trigger(sdk(n1), ch, 'after-stop-2', { n: 2 });
    assert.equal(r.status, 200, r.text);
    await recY.wait('after-stop-2', 3000, 'a REST event on node 1 reaches Y on node 2');
    await sleep(500);
    assert.equal(recY.named('pusher:member_added').length, 1, 'member_added X once');
    assert.equal(recY.named('pusher:member_removed').length, 1, 'member_removed X once');
    assert.ok(x.connection.state === 'connected', 'X\'s connection survived the stop');
  });
});
