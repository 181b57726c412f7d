'use strict';
// Fan-out across workers (workers: 2) and slow-consumer protection (out-queue limits -> 4100).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./helpers');

describe('fan-out', () => {
  let srv;
  let sdk;
  const open = [];
  before(async () => {
    srv = await h.startServer();
    sdk = h.sdkClient(srv);
  });
  after(() => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    return srv && srv.stop();
  });

  test('60 raw + 6 pusher-js subscribers each get every event exactly once, in order', async () => {
    const ch = 'fan-main';
    const raws = [];
    for (let i = 0; i < 60; i++) raws.push(h.rawConnect(srv));
    const clients = await Promise.all(raws);
    open.push(...clients);
    await Promise.all(clients.map((c) => c.subscribe(ch)));
    const pjs = [];
    for (let i = 0; i < 6; i++) {
      const c = h.pusherClient(srv, { sdk });
      open.push(c);
      const { channel } = await h.subscribe(c, ch);
      pjs.push(h.recorder(channel));
    }
    const info = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'subscription_count' }));
    assert.equal(info.subscription_count, 66);

    const N = 20;
    for (let i = 0; i < N; i++) await h.ok(h.rest.trigger(sdk, ch, 'fan', String(i)));
    await h.ok(h.rest.trigger(sdk, ch, 'fan-done', 'end'));

    await Promise.all(clients.map((c) => c.next('fan-done', 8000)));
    for (const c of clients) {
      const got = c.all('fan').map((f) => f.data);
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => String(i)), `socket ${c.socketId} got ${got}`);
    }
    await Promise.all(pjs.map((r) => r.wait('fan-done', 8000)));
    for (const r of pjs) {
      assert.deepEqual(r.named('fan').map((e) => e.data), Array.from({ length: N }, (_, i) => i));
    }
  });

  test('batch and multi-channel fan-out: one delivery per (event, subscribed channel)', async () => {
    const chans = ['fan-a', 'fan-b', 'fan-c'];
    const clients = await Promise.all(Array.from({ length: 30 }, () => h.rawConnect(srv)));
    open.push(...clients);
    // client i subscribes to chans[i % 3] and, for even i, also to fan-c
    await Promise.all(clients.map(async (c, i) => {
      await c.subscribe(chans[i % 3]);
      if (i % 2 === 0 && i % 3 !== 2) await c.subscribe('fan-c');
    }));
    await h.ok(h.rest.trigger(sdk, chans, 'multi', 'm'));
    await h.ok(h.rest.triggerBatch(sdk, chans.map((ch) => ({ channel: ch, name: 'batched', data: ch }))));
    await h.ok(h.rest.trigger(sdk, chans, 'stop', 's'));
    await Promise.all(clients.map((c) => c.next('stop', 8000)));
    await h.sleep(200);
    clients.forEach((c, i) => {
      const mine = new Set([chans[i % 3]]);
      if (i % 2 === 0 && i % 3 !== 2) mine.add('fan-c');
      const multi = c.all('multi').map((f) => f.channel).sort();
      assert.deepEqual(multi, [...mine].sort(), `client ${i} multi deliveries`);
      const batched = c.all('batched').map((f) => f.channel).sort();
      assert.deepEqual(batched, [...mine].sort(), `client ${i} batch deliveries`);
      for (const f of c.all('batched')) assert.equal(f.data, f.channel);
    });
  });

  test('socket_id exclusion works for sockets on either worker', async () => {
    const ch = 'fan-excl';
    const clients = await Promise.all(Array.from({ length: 16 }, () => h.rawConnect(srv)));
    open.push(...clients);
    await Promise.all(clients.map((c) => c.subscribe(ch)));
    for (const ex of clients.slice(0, 8)) {
      await h.ok(h.rest.trigger(sdk, ch, 'ex', ex.socketId, { socket_id: ex.socketId }));
    }
    await h.ok(h.rest.trigger(sdk, ch, 'ex-done', ''));
    await Promise.all(clients.map((c) => c.next('ex-done', 5000)));
    clients.forEach((c, i) => {
      const got = c.all('ex').map((f) => f.data);
      const expected = clients.slice(0, 8).map((x) => x.socketId).filter((sid) => sid !== c.socketId);
      assert.deepEqual(got, expected, `client ${i}`);
    });
  });

  test('presence membership is consistent across workers', async () => {
    const ch = 'presence-fan';
    const clients = await Promise.all(Array.from({ length: 12 }, () => h.rawConnect(srv)));
    open.push(...clients);
    for (let i = 0; i < clients.length; i++) {
      const f = await clients[i].subscribeSigned(ch, sdk, { user_id: `u${i % 6}` });
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
      assert.equal(h.decodeData(f).presence.count, Math.min(i + 1, 6));
    }
    const users = await h.ok(h.rest.get(sdk, `/channels/${ch}/users`));
    assert.equal(users.users.length, 6);
    // first subscriber saw exactly 5 member_added (u1..u5), one per distinct user
    await h.eventually(() => clients[0].all('pusher_internal:member_added').length >= 5, { timeoutMs: 3000, what: 'member_added x5' });
    await h.sleep(300);
    const added = clients[0].all('pusher_internal:member_added').map((f) => JSON.parse(f.data).user_id).sort();
    assert.deepEqual(added, ['u1', 'u2', 'u3', 'u4', 'u5']);
  });
});

describe('slow consumer', () => {
  let srv;
  let sdk;
  const open = [];
  before(async () => {
    srv = await h.startServer({ config: { out_queue_max_frames: 64, out_queue_max_kb: 256 } });
    sdk = h.sdkClient(srv);
  });
  after(() => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    return srv && srv.stop();
  });

  test('a client that never reads is closed with 4100; others keep receiving everything', async (t) => {
    const ch = 'slow-chan';
    const slow = await h.rawConnect(srv);
    open.push(slow);
    await slow.subscribe(ch);
    const fast = await h.rawConnect(srv);
    open.push(fast);
    await fast.subscribe(ch);
    const pj = h.pusherClient(srv, { sdk });
    open.push(pj);
    const { channel } = await h.subscribe(pj, ch);
    const rec = h.recorder(channel);
    const count = async () => (await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'subscription_count' }))).subscription_count;
    assert.equal(await count(), 3);

    slow.ws._socket.pause(); // stop reading: the kernel buffers fill, then the server's out-queue
    const payload = 'z'.repeat(9000);
    let sent = 0;
    let dropped = false;
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && sent < 4000) {
      const batch = Array.from({ length: 10 }, (_, i) => ({ channel: ch, name: 'flood', data: `${sent + i}:${payload}` }));
      const r = await h.rest.triggerBatch(sdk, batch);
      if (r.status === 503) { await h.sleep(50); continue; } // documented back-pressure: retry
      assert.equal(r.status, 200, r.text);
      sent += 10;
      // The reading clients keep up (each is at most one batch behind), so only the paused
      // client's queue can grow.
      const last = `${sent - 1}:`;
      await fast.next((f) => f.event === 'flood' && f.data.startsWith(last), 5000);
      await rec.wait((e) => e.event === 'flood' && e.data.startsWith(last), 5000, `pusher-js flood ${sent - 1}`);
      if (sent % 100 === 0 && (await count()) < 3) { dropped = true; break; }
    }
    assert.ok(dropped, `slow consumer still subscribed after ${sent} events of 9 KB (subscription_count ${await count()})`);
    await h.eventually(async () => (await count()) === 2, { timeoutMs: 6000, what: 'subscription_count 2 (only the slow client dropped)' });
    assert.equal(fast.closeInfo, null, `the reading raw client must stay open: ${JSON.stringify(fast.closeInfo)}`);
    assert.equal(pj.connection.state, 'connected');

    // Fast clients got every event, in order.
    await h.ok(h.rest.trigger(sdk, ch, 'flood-done', 'end'));
    await fast.next('flood-done', 15000);
    const fastGot = fast.all('flood').map((f) => Number(f.data.split(':')[0]));
    assert.equal(fastGot.length, sent, 'raw fast client received every event');
    assert.deepEqual(fastGot, Array.from({ length: sent }, (_, i) => i));
    await rec.wait('flood-done', 15000);
    assert.equal(rec.named('flood').length, sent, 'pusher-js client received every event');
    assert.equal(fast.all('pusher:error').length, 0);

    // The slow client's connection is closed (TCP end); if a close frame made it, it is 4100
    // preceded by pusher:error 4100.
    slow.ws._socket.resume();
    const closeInfo = await slow.waitClose(15000);
    const errs = slow.all('pusher:error');
    t.diagnostic(`sent ${sent} events; slow client got ${slow.all('flood').length}, close ${JSON.stringify(closeInfo)}, errors ${errs.map((e) => e.__text)}`);
    if (closeInfo.code !== 1006) {
      assert.equal(closeInfo.code, 4100, `close code ${JSON.stringify(closeInfo)}`);
      assert.ok(errs.some((e) => e.data.code === 4100), 'pusher:error 4100 before the close');
    }
    assert.ok(slow.all('flood').length < sent, 'slow client did not get everything');

    // The server still accepts new subscribers.
    const late = await h.rawConnect(srv);
    open.push(late);
    await late.subscribe(ch);
    await h.ok(h.rest.trigger(sdk, ch, 'late', 'x'));
    await late.next('late', 3000);
  });
});
