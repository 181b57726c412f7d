'use strict';
// Channel features: client events (spec 4.9), cache channels (4.8, 9.6 info=cache) and
// subscription counts (4.7). The server runs with workers: 2; a group of consecutive connections
// is spread over both workers by the acceptor, so "every other subscriber" below always includes
// sockets of the other worker.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./helpers');

describe('client events, cache channels, subscription counts', () => {
  let srv;
  const apps = {
    chat: h.makeApp({ enable_client_messages: true }), // max_client_events_per_sec: default 10
    silent: h.makeApp({ enable_client_messages: false }),
    cache: h.makeApp({}), // cache_ttl_seconds: default 1800
    shortCache: h.makeApp({ cache_ttl_seconds: 1 }),
    counting: h.makeApp({ subscription_count: true }),
    notCounting: h.makeApp({}),
  };
  const open = [];
  let seq = 0;
  const name = (prefix) => `${prefix}t${++seq}-${Date.now() % 100000}`;
  const raw = async (app, opts = {}) => { const c = await h.rawConnect(srv, { key: app.key, ...opts }); open.push(c); return c; };
  const raws = async (app, n) => { const out = []; for (let i = 0; i < n; i++) out.push(await raw(app)); return out; };
  const pjs = (app, opts = {}) => { const c = h.pusherClient(srv, { app, ...opts }); open.push(c); return c; };
  const sdkOf = (app) => h.sdkClient(srv, app);
  const isClientEv = (f) => typeof f.event === 'string' && f.event.startsWith('client-');

  before(async () => {
    srv = await h.startServer({ apps: Object.values(apps) });
  });
  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    if (srv) await srv.stop();
  });

  describe('client events', () => {
    test('private channel: delivered once to every other subscriber (both workers), never echoed', async () => {
      const sdk = sdkOf(apps.chat);
      const ch = name('private-');
      const clients = await raws(apps.chat, 5);
      for (const c of clients) assert.equal((await c.subscribeSigned(ch, sdk)).event, 'pusher_internal:subscription_succeeded');
      const [sender, ...others] = clients;
      sender.send({ event: 'client-typing', channel: ch, data: { typing: true, who: 'sender' } });
      for (const o of others) {
        const f = await o.next('client-typing', 3000);
        assert.equal(f.channel, ch);
        assert.deepEqual(f.data, { typing: true, who: 'sender' });
        assert.equal(f.user_id, undefined, 'no user_id on private channels');
      }
      // a second event from another sender (other worker half the time) reaches the first sender
      others[0].send({ event: 'client-back', channel: ch, data: 'string data' });
      assert.equal((await sender.next('client-back', 3000)).data, 'string data');
      await h.sleep(300);
      assert.equal(sender.all('client-typing').length, 0, 'not echoed to the sender');
      assert.equal(others[0].all('client-back').length, 0, 'not echoed to the sender');
      for (const o of others) assert.equal(o.all('client-typing').length, 1, 'exactly once');
      for (const c of clients) assert.equal(c.all('pusher:error').length, 0, c.historyText());
    });

    test('pusher-js channel.trigger reaches another pusher-js client and a raw client', async () => {
      const ch = name('private-');
      const a = pjs(apps.chat);
      const b = pjs(apps.chat);
      const chA = (await h.subscribe(a, ch)).channel;
      const chB = (await h.subscribe(b, ch)).channel;
      const r = await raw(apps.chat);
      await r.subscribeSigned(ch, sdkOf(apps.chat));
      const recA = h.recorder(chA);
      const recB = h.recorder(chB);
      assert.equal(chA.trigger('client-note', { text: 'hi' }), true);
      const got = await recB.wait('client-note', 3000);
      assert.deepEqual(got.data, { text: 'hi' });
      assert.deepEqual((await r.next('client-note', 3000)).data, { text: 'hi' });
      await h.sleep(300);
      assert.equal(recA.named('client-note').length, 0, 'pusher-js sender does not get its own event');
    });

    test('presence channel: carries the sender user_id; pusher-js passes it as metadata.user_id', async () => {
      const sdk = sdkOf(apps.chat);
      const ch = name('presence-');
      const listener = pjs(apps.chat, { presence: { user_id: 'listener', user_info: { n: 1 } } });
      const { channel } = await h.subscribe(listener, ch);
      // bind (not bind_global, which gets no metadata)
      const got = new Promise((resolve) => channel.bind('client-hi', (data, metadata) => resolve({ data, metadata })));
      const other = await raw(apps.chat);
      await other.subscribeSigned(ch, sdk, { user_id: 'bystander' });
      const sender = await raw(apps.chat);
      await sender.subscribeSigned(ch, sdk, { user_id: 'talker-7', user_info: { name: 'T' } });
      sender.send({ event: 'client-hi', channel: ch, data: { x: 1 } });
      const { data, metadata } = await h.withTimeout(got, 3000, 'client-hi on pusher-js');
      assert.deepEqual(data, { x: 1 });
      assert.equal(metadata && metadata.user_id, 'talker-7');
      const f = await other.next('client-hi', 3000);
      assert.equal(f.user_id, 'talker-7');
      assert.deepEqual(f.data, { x: 1 });
      // and the other way round: pusher-js sends, the raw sockets see the pusher-js user's id
      channel.trigger('client-reply', { ok: true });
      const g = await sender.next('client-reply', 3000);
      assert.equal(g.user_id, 'listener');
      assert.ok(await sender.none((x) => x.event === 'client-hi', 200), 'no echo');
    });

    const refusals = [
      { label: 'public channel', prefix: 'pub-', app: 'chat' },
      { label: 'public cache channel', prefix: 'cache-', app: 'chat' },
      { label: 'private-encrypted- channel', prefix: 'private-encrypted-', app: 'chat' },
      { label: 'sender not subscribed', prefix: 'private-', app: 'chat', notSubscribed: true },
      { label: 'app without enable_client_messages (private)', prefix: 'private-', app: 'silent' },
      { label: 'app without enable_client_messages (presence)', prefix: 'presence-', app: 'silent' },
    ];
    for (const r of refusals) {
      test(`refused with pusher:error 4301, not relayed, connection kept: ${r.label}`, async () => {
        const app = apps[r.app];
        const sdk = h.sdkClient(srv, app, { encryptionMasterKeyBase64: Buffer.alloc(32, 3).toString('base64') });
        const ch = name(r.prefix);
        const a = await raw(app);
        const b = await raw(app);
        const sub = (c, uid) => (ch.startsWith('private-') || ch.startsWith('presence-')
          ? c.subscribeSigned(ch, sdk, ch.startsWith('presence-') ? { user_id: uid } : undefined)
          : c.subscribe(ch));
        if (!r.notSubscribed) assert.equal((await sub(a, 'a')).event, 'pusher_internal:subscription_succeeded');
        assert.equal((await sub(b, 'b')).event, 'pusher_internal:subscription_succeeded');
        a.send({ event: 'client-nope', channel: ch, data: { secret: 1 } });
        const e = await a.next('pusher:error', 3000);
        assert.equal(e.data.code, 4301, e.__text);
        assert.equal(typeof e.data.message, 'string');
        assert.ok(await b.none(isClientEv, 300), `not relayed: ${b.historyText()}`);
        await a.ping();
        assert.ok(a.isOpen, 'connection stays open');
        if (r.app === 'silent') assert.match(e.data.message, /client messag/i);
      });
    }

    test('pusher-js refuses client events on encrypted channels itself (nothing reaches the server)', async () => {
      const ch = name('private-encrypted-');
      const sdk = h.sdkClient(srv, apps.chat, { encryptionMasterKeyBase64: Buffer.alloc(32, 7).toString('base64') });
      const a = pjs(apps.chat, { sdk });
      const { channel } = await h.subscribe(a, ch);
      assert.throws(() => channel.trigger('client-x', {}));
    });

    test('rate limit (default 10/s): the 11th event in a second -> 4301 "Client event rejected due to rate limit"', async () => {
      const sdk = sdkOf(apps.chat);
      const ch = name('private-');
      const a = await raw(apps.chat);
      const b = await raw(apps.chat);
      await a.subscribeSigned(ch, sdk);
      await b.subscribeSigned(ch, sdk);
      for (let i = 0; i < 15; i++) a.send({ event: 'client-burst', channel: ch, data: { i } });
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4301);
      assert.equal(e.data.message, 'Client event rejected due to rate limit');
      await a.ping();
      await h.eventually(() => b.all('client-burst').length >= 10, { timeoutMs: 3000, what: '10 relayed' });
      await h.sleep(300);
      const relayed = b.all('client-burst').map((f) => f.data.i);
      assert.deepEqual(relayed, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the first 10 are relayed, in order');
      assert.equal(a.all('pusher:error').length, 5, 'one 4301 per refused event');
      assert.ok(a.isOpen, 'not closed');
      await h.sleep(1000);
      a.send({ event: 'client-later', channel: ch, data: {} });
      await b.next('client-later', 3000);
      // per connection: b has its own budget
      for (let i = 0; i < 10; i++) b.send({ event: 'client-b', channel: ch, data: { i } });
      await h.eventually(() => a.all('client-b').length === 10, { timeoutMs: 3000, what: 'b sends 10' });
      assert.equal(b.all('pusher:error').length, 0, b.historyText());
    });
  });

  describe('cache channels', () => {
    // The frame right after subscription_succeeded for ch in c's history.
    const afterSucceeded = (c, ch) => {
      const i = c.history.findIndex((f) => f.channel === ch && f.event === 'pusher_internal:subscription_succeeded');
      assert.ok(i >= 0, `no subscription_succeeded for ${ch}: ${c.historyText()}`);
      return c.history[i + 1];
    };
    const nextOn = (c, ch, ms = 3000) => c.next((f) => f.channel === ch && f.event !== 'pusher_internal:subscription_succeeded', ms);

    test('empty cache channel: pusher:cache_miss with data "{}" right after subscription_succeeded', async () => {
      const ch = name('cache-');
      const a = await raw(apps.cache);
      assert.equal((await a.subscribe(ch)).event, 'pusher_internal:subscription_succeeded');
      const f = await nextOn(a, ch);
      assert.equal(f.event, 'pusher:cache_miss', f.__text);
      assert.deepEqual(h.decodeData(f), {});
      assert.equal(afterSucceeded(a, ch), f, 'cache_miss is the very next frame');
      const info = await h.ok(h.rest.get(sdkOf(apps.cache), `/channels/${ch}`, { info: 'cache' }));
      assert.equal(info.cache, null, JSON.stringify(info));
      // a non-cache channel gets no cache_miss
      const plain = name('plain-');
      await a.subscribe(plain);
      assert.ok(await a.none((x) => x.channel === plain && x.event === 'pusher:cache_miss', 300));
    });

    for (const prefix of ['cache-', 'private-cache-', 'presence-cache-']) {
      test(`${prefix}: the last REST event is replayed to a new subscriber right after subscription_succeeded`, async () => {
        const app = apps.cache;
        const sdk = sdkOf(app);
        const ch = name(prefix);
        const sub = (c, uid) => (prefix === 'cache-' ? c.subscribe(ch) : c.subscribeSigned(ch, sdk, prefix.startsWith('presence') ? { user_id: uid } : undefined));
        // published with nobody subscribed: still cached
        await h.ok(h.rest.trigger(sdk, ch, 'first', { n: 1 }));
        await h.ok(h.rest.trigger(sdk, ch, 'loc', { lat: 1.5, n: 2 }));
        const a = await raw(app);
        assert.equal((await sub(a, 'u1')).event, 'pusher_internal:subscription_succeeded');
        const f = await nextOn(a, ch);
        assert.equal(f.event, 'loc', `the last event only: ${a.historyText()}`);
        assert.equal(f.data, '{"lat":1.5,"n":2}', 'data string byte for byte');
        assert.equal(afterSucceeded(a, ch), f);
        assert.equal(a.all('first').length, 0);
        assert.equal(a.all('pusher:cache_miss').length, 0);

        // a live event reaches the subscriber normally and replaces the cached one
        await h.ok(h.rest.trigger(sdk, ch, 'loc2', 'plain text'));
        assert.equal((await a.next('loc2', 3000)).data, 'plain text');
        const b = await raw(app);
        await sub(b, 'u2');
        const g = await nextOn(b, ch);
        assert.equal(g.event, 'loc2');
        assert.equal(g.data, 'plain text');

        const info = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'cache' }));
        assert.equal(info.occupied, true);
        assert.ok(info.cache && typeof info.cache === 'object', JSON.stringify(info));
        assert.equal(info.cache.data, 'plain text');
        assert.ok(Number.isInteger(info.cache.ttl) && info.cache.ttl > 1790 && info.cache.ttl <= 1800,
          `ttl counts down from cache_ttl_seconds default 1800: ${JSON.stringify(info.cache)}`);
      });
    }

    test('pusher-js: cached event and pusher:cache_miss are emitted on the channel', async () => {
      const sdk = sdkOf(apps.cache);
      const hit = name('cache-');
      const miss = name('cache-');
      await h.ok(h.rest.trigger(sdk, hit, 'price', { v: 99 }));
      const c = pjs(apps.cache);
      const chHit = c.subscribe(hit);
      const chMiss = c.subscribe(miss);
      const recHit = h.recorder(chHit);
      const recMiss = h.recorder(chMiss);
      assert.deepEqual((await recHit.wait('price', 5000)).data, { v: 99 });
      await recMiss.wait('pusher:cache_miss', 5000);
      const names = recHit.events.map((e) => e.event);
      assert.ok(names.indexOf('pusher:subscription_succeeded') < names.indexOf('price'), names.join(','));
    });

    test('client events are not cached; the socket_id exclusion does not apply to the replay', async () => {
      const app = apps.chat;
      const sdk = sdkOf(app);
      const ch = name('private-cache-');
      const a = await raw(app);
      const b = await raw(app);
      await a.subscribeSigned(ch, sdk);
      await nextOn(a, ch); // cache_miss
      await b.subscribeSigned(ch, sdk);
      await nextOn(b, ch); // cache_miss
      a.send({ event: 'client-x', channel: ch, data: { c: 1 } });
      await b.next('client-x', 3000);
      const c = await raw(app);
      await c.subscribeSigned(ch, sdk);
      assert.equal((await nextOn(c, ch)).event, 'pusher:cache_miss', 'a client event is not cached');

      await h.ok(h.rest.trigger(sdk, ch, 'excluded', 'x', { socket_id: a.socketId }));
      await b.next('excluded', 3000);
      assert.ok(await a.none('excluded', 200), 'the live event honours socket_id');
      a.unsubscribe(ch);
      await a.subscribeSigned(ch, sdk);
      const f = await nextOn(a, ch);
      assert.equal(f.event, 'excluded', 'the replay to the excluded socket is not filtered');
    });

    test('cache_ttl_seconds: 1 -> the cached event expires (cache_miss, info cache null)', async () => {
      const app = apps.shortCache;
      const sdk = sdkOf(app);
      const ch = name('cache-');
      await h.ok(h.rest.trigger(sdk, ch, 'soon-gone', 'v'));
      const a = await raw(app);
      await a.subscribe(ch);
      assert.equal((await nextOn(a, ch)).event, 'soon-gone');
      const info = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'cache' }));
      assert.ok(info.cache && info.cache.ttl >= 0 && info.cache.ttl <= 1, JSON.stringify(info));
      await h.sleep(2100);
      const b = await raw(app);
      await b.subscribe(ch);
      assert.equal((await nextOn(b, ch)).event, 'pusher:cache_miss', b.historyText());
      const info2 = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'cache' }));
      assert.equal(info2.cache, null, JSON.stringify(info2));
    });
  });

  describe('subscription counts', () => {
    const counts = (c, ch) => c.all((f) => f.channel === ch && f.event === 'pusher_internal:subscription_count').map((f) => h.decodeData(f).subscription_count);
    const lastCount = (c, ch) => { const x = counts(c, ch); return x.length ? x[x.length - 1] : undefined; };

    test('sent to subscribers on subscribe / unsubscribe / close with the current count', async () => {
      const ch = name('count-');
      const a = await raw(apps.counting);
      const b = await raw(apps.counting);
      await a.subscribe(ch);
      await h.eventually(() => lastCount(a, ch) === 1, { timeoutMs: 3000, what: `count 1: ${a.historyText()}` });
      await b.subscribe(ch);
      await h.eventually(() => lastCount(a, ch) === 2 && lastCount(b, ch) === 2, { timeoutMs: 3000, what: 'count 2 on both' });
      const f = a.all('pusher_internal:subscription_count').pop();
      assert.equal(typeof f.data, 'string', 'data is a JSON string');
      b.unsubscribe(ch);
      await h.eventually(() => lastCount(a, ch) === 1, { timeoutMs: 3000, what: 'count back to 1' });
      await b.subscribe(ch);
      await h.eventually(() => lastCount(a, ch) === 2, { timeoutMs: 3000, what: 'count 2 again' });
      b.close();
      await h.eventually(() => lastCount(a, ch) === 1, { timeoutMs: 3000, what: 'count 1 after close' });
      // private channels count too
      const sdk = sdkOf(apps.counting);
      const p = name('private-');
      await a.subscribeSigned(p, sdk);
      await h.eventually(() => lastCount(a, p) === 1, { timeoutMs: 3000, what: 'private count 1' });
    });

    test('a burst of joins is coalesced; the final count is right (both workers)', async () => {
      const ch = name('burst-');
      const first = await raw(apps.counting);
      await first.subscribe(ch);
      await h.eventually(() => lastCount(first, ch) === 1, { timeoutMs: 3000, what: 'count 1' });
      const n = 30;
      const others = await Promise.all(Array.from({ length: n }, () => raw(apps.counting)));
      await Promise.all(others.map((c) => c.subscribe(ch)));
      await h.eventually(() => lastCount(first, ch) === n + 1, { timeoutMs: 5000, what: `count ${n + 1}: ${JSON.stringify(counts(first, ch))}` });
      await h.sleep(600);
      const seen = counts(first, ch);
      assert.equal(seen[seen.length - 1], n + 1, JSON.stringify(seen));
      assert.ok(seen.length - 1 <= n / 3, `${n} joins must give far fewer events than joins, got ${seen.length - 1}: ${JSON.stringify(seen)}`);
      await h.eventually(() => others.every((c) => lastCount(c, ch) === n + 1), { timeoutMs: 3000, what: 'every subscriber ends at the final count' });
    });

    test('pusher-js emits pusher:subscription_count and keeps channel.subscriptionCount', async () => {
      const ch = name('count-');
      const c = pjs(apps.counting);
      const { channel } = await h.subscribe(c, ch);
      const seen = [];
      channel.bind('pusher:subscription_count', (d) => seen.push(d.subscription_count));
      const r = await raw(apps.counting);
      await r.subscribe(ch);
      await h.eventually(() => seen[seen.length - 1] === 2 && channel.subscriptionCount === 2, { timeoutMs: 3000, what: `pusher-js count 2: ${seen}` });
    });

    test('not on presence channels', async () => {
      const sdk = sdkOf(apps.counting);
      const ch = name('presence-');
      const a = await raw(apps.counting);
      const b = await raw(apps.counting);
      await a.subscribeSigned(ch, sdk, { user_id: '1' });
      await b.subscribeSigned(ch, sdk, { user_id: '2' });
      b.close();
      assert.ok(await a.none('pusher_internal:subscription_count', 800), a.historyText());
    });

    test('not when the app does not enable subscription_count', async () => {
      const ch = name('count-');
      const a = await raw(apps.notCounting);
      const b = await raw(apps.notCounting);
      await a.subscribe(ch);
      await b.subscribe(ch);
      b.unsubscribe(ch);
      assert.ok(await a.none('pusher_internal:subscription_count', 800), a.historyText());
      assert.equal(b.all('pusher_internal:subscription_count').length, 0);
    });
  });
});
