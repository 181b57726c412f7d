'use strict';
// Cluster mode: answers from Redis kept in order with live events (gateway/ws_gate.c). Two
// pushgate nodes and a real redis-server (no persistence); stress tests, so they check invariants
// over many racing subscribers rather than one scripted timeline.
//
// * Cache channels: while a publisher triggers numbered events as fast as it can, subscribers on
//   both nodes subscribe at staggered moments. Each one sees its channel's events as the replay
//   (or live copy) of some event s followed by every later event, in order, once each: strictly
//   increasing, no gap, ending with the last one, and s no later than the first event triggered
//   after its subscription_succeeded. A subscriber from before the first event gets
//   pusher:cache_miss and then all of them; nobody gets an event before its
//   subscription_succeeded. Variants: one sequential publisher on node 1; /batch_events calls of
//   ten; three concurrent sequential publishers on node 1 and two, one through each node (checked
//   per publisher); a presence-cache channel (whose subscribe waits a Redis round trip for the
//   roster first). All broken rules of all subscribers are reported together.
// * Watchlist: users flap online / offline on node 1 while watchers (pusher-js, user.watchlist)
//   sign in on both nodes; once the flapping stops and things settle, the last state each watcher
//   got for each user (the initial state or a later online / offline) is the user's true state.
//   Two shapes: continuous flapping with watchers signing in throughout, and rounds that make a
//   user's last transition race a watcher's sign-in (with a stream of unrelated events keeping
//   node 2's Redis link busy).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./helpers');

const { REDIS_BIN, haveRedis, RedisServer } = require('./redis-server');

const WL = 'pusher_internal:watchlist_events';
let seqNo = 0;
const uniq = (p) => `${p}-${++seqNo}-${crypto.randomBytes(3).toString('hex')}`;

describe('cluster: Redis answers ordered against live events', { skip: haveRedis ? false : `${REDIS_BIN} not found: cluster tests skipped` }, () => {
  let redis;
  let n1;
  let n2;
  let app;
  const open = [];
  const raw = async (srv) => { const c = await h.rawConnect(srv, { key: app.key }); open.push(c); return c; };

  before(async () => {
    app = h.makeApp({});
    const port = await h.freePort();
    redis = new RedisServer(port);
    await redis.start();
    const config = { redis_url: `redis://127.0.0.1:${port}`, redis_prefix: `e2e-${crypto.randomBytes(4).toString('hex')}` };
    [n1, n2] = await Promise.all([1, 2].map(() => h.startServer({ apps: [app], config })));
  });

  after(async () => {
    for (const c of open) c.terminate();
    for (const n of [n1, n2]) if (n && n.alive) await n.stop();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
  });

  // ----------------------------------------------------------------------------------------------
  // Cache channels

  /**
   * Runs one cache-channel stress round on channel ch.
   * loops: [{srv, count}] publishers, each triggering events {l: loop, seq: 1..count} one after
   * the other (awaiting each); they run concurrently. Subscribers: `early` raw clients subscribe
   * (on alternate nodes) before anything is published; `staggered` [{srv, n}] subscribe while
   * publishing, spread over the run. subscribeFn(client, ch) subscribes and resolves with the
   * subscription_succeeded / error frame.
   */
  async function cacheRound({ ch, loops, early, staggered, subscribeFn }) {
    const sdks = loops.map((l) => h.sdkClient(l.srv, app));
    const total = loops.reduce((a, l) => a + l.count, 0);
    const started = loops.map(() => 0); // per loop: triggers started (seq 1..started)
    const done = loops.map(() => 0); // per loop: triggers answered
    const startedAll = () => started.reduce((a, b) => a + b, 0);

    // early subscribers: nothing cached yet
    const earlySubs = [];
    for (let i = 0; i < early; i++) {
      const c = await raw(i % 2 ? n2 : n1);
      const ok = await subscribeFn(c, ch);
      assert.equal(ok.event, 'pusher_internal:subscription_succeeded', ok.__text);
      const miss = await c.next((f) => f.channel === ch && f.event !== 'pusher_internal:subscription_succeeded', 3000);
      assert.equal(miss.event, 'pusher:cache_miss', `early subscriber: cache_miss first: ${c.historyText()}`);
      earlySubs.push(c);
    }

    // staggered subscribers: connected now, subscribing at planned points of the publishing
    const plan = [];
    for (const { srv, n } of staggered) for (let i = 0; i < n; i++) plan.push({ srv });
    await Promise.all(plan.map(async (p) => { p.c = await raw(p.srv); }));
    for (let i = plan.length - 1; i > 0; i--) { // shuffle nodes across the timeline
      const j = crypto.randomInt(i + 1);
      [plan[i], plan[j]] = [plan[j], plan[i]];
    }
    // subscriber i subscribes when `at` triggers have started, from 5 % to 95 % of the run; a few
    // share the same moment
    plan.forEach((p, i) => { p.at = Math.max(1, Math.floor(total * (0.05 + (0.9 * i) / plan.length))); });
    let nextPlan = 0;
    const subDone = [];
    const launch = () => {
      while (nextPlan < plan.length && plan[nextPlan].at <= startedAll()) {
        const p = plan[nextPlan++];
        p.sentStarted = started.slice();
        p.sentDone = done.slice();
        subDone.push(subscribeFn(p.c, ch).then((ok) => {
          p.ok = ok;
          p.okStarted = started.slice();
        }));
      }
    };

    const t0 = Date.now();
    await Promise.all(loops.map(async (l, li) => {
      for (let s = 1; s <= l.count; s += l.batch || 1) {
        const last = Math.min(s + (l.batch || 1) - 1, l.count);
        started[li] = last;
        launch();
        if (!l.batch) await sdks[li].trigger(ch, 'tick', { l: li, seq: s });
        else {
          const batch = [];
          for (let q = s; q <= last; q++) batch.push({ channel: ch, name: 'tick', data: JSON.stringify({ l: li, seq: q }) });
          await sdks[li].triggerBatch(batch);
        }
        done[li] = last;
      }
    }));
    const publishMs = Date.now() - t0;
    await Promise.all(subDone);
    assert.equal(nextPlan, plan.length, 'every staggered subscriber subscribed');

    // each subscriber's events on ch: [{l, seq}] in arrival order
    const eventsOf = (c) => c.history.filter((f) => f.channel === ch && f.event === 'tick').map((f) => JSON.parse(f.data));
    const lastOf = (c, li) => { // the last seq of publisher li that c got (0: none)
      for (let i = c.history.length - 1; i >= 0; i--) {
        const f = c.history[i];
        if (f.channel === ch && f.event === 'tick') {
          const d = JSON.parse(f.data);
          if (d.l === li) return d.seq;
        }
      }
      return 0;
    };
    // a publisher's events are due to a subscriber if its last one was triggered after the
    // subscription_succeeded (otherwise another publisher's newer event may have replaced it in
    // the cache before the subscribe)
    for (const c of earlySubs) c.due = loops.map(() => true);
    for (const p of plan) p.c.due = loops.map((l, li) => p.okStarted[li] < l.count);
    const all = [...earlySubs, ...plan.map((p) => p.c)];
    const labels = new Map([...earlySubs.map((c, i) => [c, `early ${i}`]), ...plan.map((p, i) => [p.c, `staggered ${i} (node ${p.srv === n1 ? 1 : 2}, at ${JSON.stringify(p.sentStarted)})`])]);
    const complete = (c) => loops.every((l, li) => !c.due[li] || lastOf(c, li) === l.count);
    await h.eventually(() => all.every(complete), {
      timeoutMs: 10000,
      what: 'every subscriber has every publisher\'s last event',
    }).catch((e) => {
      const lag = all.filter((c) => !complete(c));
      throw new Error(`${e.message}; ${lag.length} lagging: ${lag.map((c) => `${labels.get(c)}: ${eventsOf(c).length} events, last ${JSON.stringify(loops.map((l, li) => lastOf(c, li)))}, open ${c.isOpen}, history ${c.historyText(4)}`).join('; ')}`);
    });
    await h.sleep(300); // a late duplicate would arrive by now

    const stats = { subscribers: all.length, overlapped: 0, replayFirst: 0, liveFirst: 0, publishMs };
    // Every broken rule, per subscriber (all of them are checked, then reported together).
    const problems = [];
    const check = (c, label, bound) => {
      const ev = eventsOf(c);
      const misses = c.history.filter((f) => f.channel === ch && f.event === 'pusher:cache_miss');
      const bad = [];
      if (c.all('pusher:error').length) bad.push(`pusher:error ${c.historyText()}`);
      for (let li = 0; li < loops.length; li++) {
        const seqs = ev.filter((e) => e.l === li).map((e) => e.seq);
        if (!c.due[li] && !seqs.length) continue;
        for (let i = 1; i < seqs.length; i++) {
          if (seqs[i] === seqs[i - 1]) bad.push(`publisher ${li}: ${seqs[i]} twice`);
          else if (seqs[i] < seqs[i - 1]) bad.push(`publisher ${li}: ${seqs[i]} after ${seqs[i - 1]} (older after newer)`);
          else if (seqs[i] !== seqs[i - 1] + 1) bad.push(`publisher ${li}: gap from ${seqs[i - 1]} to ${seqs[i]}`);
        }
        if (seqs[seqs.length - 1] !== loops[li].count) bad.push(`publisher ${li}: ends with ${seqs[seqs.length - 1]}, not its last event ${loops[li].count}`);
        if (bound && c.due[li] && !(seqs[0] <= bound[li])) {
          bad.push(`publisher ${li}: first event ${seqs[0]} is later than ${bound[li]}, the first triggered after subscription_succeeded`);
        }
      }
      // nothing on the channel before its subscription_succeeded
      const okAt = c.history.findIndex((f) => f.channel === ch && f.event === 'pusher_internal:subscription_succeeded');
      const before = c.history.findIndex((f) => f.channel === ch && f.event === 'tick');
      if (okAt < 0 || (before >= 0 && before < okAt)) bad.push('an event before subscription_succeeded');
      if (bad.length) {
        // the frames on ch, ticks as publisher:seq
        const frames = c.history.filter((f) => f.channel === ch)
          .map((f) => (f.event === 'tick' ? `${JSON.parse(f.data).l}:${JSON.parse(f.data).seq}` : f.event.replace(/^pusher(_internal)?:/, '')));
        problems.push(`${label}: ${bad.join(', ')}; frames ${JSON.stringify(frames.slice(0, 24))}`);
      }
      return { ev, misses };
    };

    for (const [i, c] of earlySubs.entries()) {
      const label = `early subscriber ${i} (node ${i % 2 ? 2 : 1})`;
      const { ev, misses } = check(c, label, loops.map(() => 1));
      assert.equal(misses.length, 1, `${label}: one cache_miss`);
      assert.equal(ev.length, total, `${label}: every event once`);
    }
    for (const [i, p] of plan.entries()) {
      const label = `staggered subscriber ${i} (node ${p.srv === n1 ? 1 : 2}, subscribed at ${JSON.stringify(p.sentStarted)})`;
      assert.equal(p.ok.event, 'pusher_internal:subscription_succeeded', `${label}: ${p.ok.__text}`);
      // the first event triggered (per publisher) after subscription_succeeded came back
      const bound = loops.map((l, li) => Math.min(p.okStarted[li] + 1, l.count));
      const { ev, misses } = check(p.c, label, bound);
      assert.equal(misses.length, 0, `${label}: something was cached, so no cache_miss: ${p.c.historyText()}`);
      if (p.okStarted.some((s, li) => s !== p.sentStarted[li])) stats.overlapped++;
      // first event older than what was already triggered when subscribing: a replay from Redis
      const first = ev[0];
      if (first && first.seq <= p.sentDone[first.l]) stats.replayFirst++;
      else stats.liveFirst++;
    }
    assert.equal(problems.length, 0, `${problems.length} of ${all.length} subscribers broke the order:\n${problems.slice(0, 6).join('\n')}`);
    return stats;
  }

  const rawSubscribe = (c, ch) => c.subscribe(ch, {}, 8000);

  test('cache channel: one fast publisher on node 1, 200 subscribers joining throughout, on both nodes', async () => {
    const ch = `cache-${uniq('ord')}`;
    const stats = await cacheRound({
      ch,
      loops: [{ srv: n1, count: 600 }],
      early: 4,
      staggered: [{ srv: n2, n: 150 }, { srv: n1, n: 50 }],
      subscribeFn: rawSubscribe,
    });
    console.log(`# one publisher: ${JSON.stringify(stats)}`);
    // the subscribes raced the publishing: most saw triggers start during their round trip, and
    // both kinds of first event occurred
    assert.ok(stats.overlapped >= stats.subscribers / 4, `subscribes overlapped publishing: ${JSON.stringify(stats)}`);
    assert.ok(stats.replayFirst > 0, `some subscribers started with a replay: ${JSON.stringify(stats)}`);
  });

  test('cache channel: batches of 10 events from node 1, 150 subscribers joining throughout', async () => {
    // one /batch_events call: ten events in order, sent to Redis back to back
    const ch = `cache-${uniq('ordb')}`;
    const stats = await cacheRound({
      ch,
      loops: [{ srv: n1, count: 2000, batch: 10 }],
      early: 2,
      staggered: [{ srv: n2, n: 120 }, { srv: n1, n: 30 }],
      subscribeFn: rawSubscribe,
    });
    console.log(`# batches: ${JSON.stringify(stats)}`);
    assert.ok(stats.overlapped >= stats.subscribers / 4, `subscribes overlapped publishing: ${JSON.stringify(stats)}`);
  });

  test('cache channel: three concurrent publishers on node 1, checked per publisher', async () => {
    // node 1 sends them to Redis in the order its REST server took them (per publisher: seq
    // order), so node 2 gets each publisher's events in order, interleaved
    const ch = `cache-${uniq('ord3')}`;
    const stats = await cacheRound({
      ch,
      loops: [{ srv: n1, count: 200 }, { srv: n1, count: 200 }, { srv: n1, count: 200 }],
      early: 2,
      staggered: [{ srv: n2, n: 120 }, { srv: n1, n: 30 }],
      subscribeFn: rawSubscribe,
    });
    console.log(`# three publishers on node 1: ${JSON.stringify(stats)}`);
    assert.ok(stats.overlapped >= stats.subscribers / 4, `subscribes overlapped publishing: ${JSON.stringify(stats)}`);
  });

  test('cache channel: two concurrent publishers, one through each node, checked per publisher', async () => {
    // a subscriber's node gets one publisher's events locally and the other's from Redis
    const ch = `cache-${uniq('ord2')}`;
    const stats = await cacheRound({
      ch,
      loops: [{ srv: n1, count: 250 }, { srv: n2, count: 250 }],
      early: 2,
      staggered: [{ srv: n2, n: 75 }, { srv: n1, n: 75 }],
      subscribeFn: rawSubscribe,
    });
    console.log(`# one publisher per node: ${JSON.stringify(stats)}`);
    assert.ok(stats.overlapped >= stats.subscribers / 4, `subscribes overlapped publishing: ${JSON.stringify(stats)}`);
  });

  test('presence-cache channel: fast publisher on node 1, 80 members joining throughout on both nodes', async () => {
    const ch = `presence-cache-${uniq('ordp')}`;
    const sdk = h.sdkClient(n2, app);
    let member = 0;
    const stats = await cacheRound({
      ch,
      loops: [{ srv: n1, count: 400 }],
      early: 2,
      staggered: [{ srv: n2, n: 60 }, { srv: n1, n: 20 }], // 82 members: under the default limit of 100
      subscribeFn: (c, name) => c.subscribeSigned(name, sdk, { user_id: `m-${++member}` }, 8000),
    });
    console.log(`# presence-cache: ${JSON.stringify(stats)}`);
    assert.ok(stats.overlapped >= stats.subscribers / 4, `subscribes overlapped publishing: ${JSON.stringify(stats)}`);
  });

  // ----------------------------------------------------------------------------------------------
  // Watchlist

  /** A raw client on srv signed in as id (resolves once signin_success came). */
  async function signedIn(srv, id) {
    const c = await raw(srv);
    c.send({ event: 'pusher:signin', data: h.sdkClient(srv, app).authenticateUser(c.socketId, { id }) });
    const f = await c.next((x) => x.event === 'pusher:signin_success' || x.event === 'pusher:error', 5000);
    assert.equal(f.event, 'pusher:signin_success', f.__text);
    return c;
  }

  /**
   * A pusher-js watcher on srv, connected but not signed in yet. w.signin() starts the sign-in;
   * w.log holds every online / offline it emitted, in order; w.state(id) the last one for id.
   */
  async function watcher(srv, ids) {
    const c = h.pusherClient(srv, { app, user: { id: uniq('watcher'), watchlist: ids } });
    const w = { c, log: [], frames: 0 };
    for (const name of ['online', 'offline']) {
      c.user.watchlist.bind(name, (e) => {
        assert.equal(e.name, name);
        for (const id of e.user_ids) w.log.push({ id, name });
      });
    }
    c.connection.bind('message', (m) => { if (m.event === WL) w.frames++; });
    c.connection.bind('error', (e) => { w.error = e; });
    w.state = (id) => { const e = w.log.filter((x) => x.id === id); return e.length ? e[e.length - 1].name : undefined; };
    w.signin = () => { c.signin(); return h.withTimeout(c.user.signinDonePromise, 8000, 'watcher signin'); };
    await h.connected(c);
    return w;
  }

  /** A fresh raw watcher's initial state for ids: {id: 'online'|'offline'}. */
  async function initialState(srv, ids) {
    const c = await raw(srv);
    c.send({ event: 'pusher:signin', data: h.sdkClient(srv, app).authenticateUser(c.socketId, { id: uniq('probe'), watchlist: ids }) });
    await c.next('pusher:signin_success', 5000);
    const f = await c.next(WL, 5000);
    const out = {};
    for (const e of h.decodeData(f).events) for (const id of e.user_ids) out[id] = e.name;
    c.close();
    return out;
  }

  test('watchlist: users flapping on node 1, 30 watchers signing in throughout on both nodes', async () => {
    // two users flap; `up` ends online (its last connection kept), `down` ends offline
    const up = uniq('flap-up');
    const down = uniq('flap-down');
    const ids = [up, down];
    const watchers = await Promise.all(Array.from({ length: 30 }, (_, i) => watcher(i % 3 === 2 ? n1 : n2, ids)));

    let stop = false;
    const cycles = { [up]: 0, [down]: 0 };
    const flap = async (id) => {
      let last = null;
      while (!stop) {
        const c = await signedIn(n1, id);
        cycles[id]++;
        await h.sleep(crypto.randomInt(4));
        // a mix of clean closes and dropped sockets; sometimes the next connection opens before
        // the previous one is gone (2 -> 1 is no transition)
        if (crypto.randomInt(2)) c.close(); else c.terminate();
        if (crypto.randomInt(3)) await c.waitClose(3000);
        last = c;
      }
      return last;
    };
    const flapping = [flap(up), flap(down)];
    await h.sleep(150);
    const t0 = Date.now();
    for (const w of watchers) { // sign-ins spread over about 2.4 s of flapping
      await w.signin();
      await h.sleep(80);
    }
    const spanMs = Date.now() - t0;
    await h.sleep(100);
    stop = true;
    await Promise.all(flapping);
    const keep = await signedIn(n1, up); // the final state: up online, down offline
    await h.sleep(2000);

    const truth = { [up]: 'online', [down]: 'offline' };
    // sanity: the cluster agrees (a fresh watcher on each node)
    for (const n of [n1, n2]) assert.deepEqual(await initialState(n, ids), truth, `a fresh watcher on node ${n === n1 ? 1 : 2}`);
    console.log(`# watchlist flapping: cycles ${JSON.stringify(Object.values(cycles))}, sign-ins over ${spanMs} ms, frames per watcher ${JSON.stringify(watchers.map((w) => w.frames))}`);
    assert.ok(cycles[up] >= 20 && cycles[down] >= 20, `users flapped while watchers signed in: ${JSON.stringify(cycles)}`);
    for (const [i, w] of watchers.entries()) {
      assert.equal(w.error, undefined, `watcher ${i}: ${JSON.stringify(w.error)}`);
      for (const id of ids) {
        assert.equal(w.state(id), truth[id], `watcher ${i} (node ${i % 3 === 2 ? 1 : 2}): last state of ${id}; log ${JSON.stringify(w.log.filter((x) => x.id === id).map((x) => x.name))}`);
      }
    }
    // the watchers saw the flapping live (not only their initial state)
    assert.ok(watchers.filter((w) => w.log.length > 2).length >= watchers.length / 2, 'watchers got live changes');
    keep.close();
    h.disconnectAll(...watchers.map((w) => w.c));
  });

  test('watchlist: a user\'s last transition races a watcher\'s sign-in (40 rounds)', async () => {
    // each round: a fresh user flaps a few times on node 1, then its last transition (to online:
    // a signin frame on an open socket; to offline: closing its only connection) is sent within a
    // few ms of a watcher's sign-in on node 2 (and, every third round, node 1)
    const round = async (r) => {
      const id = uniq(`race-${r}`);
      const toOnline = r % 2 === 0;
      for (let k = 0; k < 2 + crypto.randomInt(3); k++) {
        const c = await signedIn(n1, id);
        c.close();
        await c.waitClose(3000);
      }
      const w = await watcher(r % 3 === 2 ? n1 : n2, [id]);
      let conn;
      let fire;
      if (toOnline) {
        conn = await raw(n1);
        const data = h.sdkClient(n1, app).authenticateUser(conn.socketId, { id });
        fire = () => conn.send({ event: 'pusher:signin', data });
      } else {
        conn = await signedIn(n1, id);
        await h.sleep(30);
        fire = () => conn.close();
      }
      const lead = crypto.randomInt(9) - 3; // -3..5 ms: transition first or watcher first
      if (lead <= 0) fire();
      const signedInP = w.signin();
      if (lead > 0) setTimeout(fire, lead);
      await signedInP;
      return { id, w, conn, truth: toOnline ? 'online' : 'offline', node: r % 3 === 2 ? 1 : 2 };
    };
    // meanwhile a stream of events through node 1 keeps node 2's Redis link busy, so that what
    // Redis sent on its two connections is often read in one go (live messages first)
    let noisy = true;
    let noiseCalls = 0;
    const noise = (async () => {
      const sdk = h.sdkClient(n1, app);
      const payload = 'x'.repeat(2000);
      while (noisy) {
        await sdk.triggerBatch(Array.from({ length: 10 }, () => ({ channel: `noise-${crypto.randomInt(50)}`, name: 'n', data: payload })));
        noiseCalls++;
      }
    })();
    const results = [];
    try {
      for (let b = 0; b < 4; b++) results.push(...await Promise.all(Array.from({ length: 10 }, (_, i) => round(b * 10 + i))));
    } finally {
      noisy = false;
      await noise;
    }
    assert.ok(noiseCalls > 10, `background events flowed: ${noiseCalls} batches`);
    await h.sleep(1500);
    for (const [i, res] of results.entries()) {
      assert.equal(res.w.error, undefined, `round ${i}: ${JSON.stringify(res.w.error)}`);
      assert.equal(res.w.state(res.id), res.truth, `round ${i} (watcher on node ${res.node}): last state; log ${JSON.stringify(res.w.log.map((x) => x.name))}`);
    }
    const truth = {};
    for (const res of results) truth[res.id] = res.truth;
    assert.deepEqual(await initialState(n2, Object.keys(truth)), truth, 'a fresh watcher agrees');
    for (const res of results) { res.conn.close(); res.w.c.disconnect(); }
  });
});
