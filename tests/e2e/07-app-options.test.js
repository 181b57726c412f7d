'use strict';
// Per-app options of the configuration that change protocol behaviour: max_connections (4004),
// subscription_count (pusher_internal:subscription_count), max_client_events_per_sec (4301),
// enable_user_authentication (soketi's meaning: a connection must SIGN IN within
// authorization_timeout_ms or is closed 4009; a private subscription does not count; a failed
// sign-in closes 4009), authorized_connections (sign-in or private/presence subscription within
// the timeout, else 4009), webhooks (spec 10, verified with the SDK's webhook checker).
// pusher:signin itself is always available, whatever the options.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./helpers');

describe('app options', () => {
  let srv;
  let hooks; // the webhook receiver (helpers.js)
  const apps = {
    limited: h.makeApp({ max_connections: 2 }),
    counting: h.makeApp({ subscription_count: true }),
    chatty: h.makeApp({ enable_client_messages: true, max_client_events_per_sec: 3 }),
    users: h.makeApp({ enable_user_authentication: true }),
    strict: h.makeApp({ authorized_connections: true, authorization_timeout_ms: 1000 }),
    strictUsers: h.makeApp({ enable_user_authentication: true, authorized_connections: true, authorization_timeout_ms: 1000 }),
    throttled: h.makeApp({ max_backend_events_per_sec: 5, max_read_requests_per_sec: 3 }),
    hooked: null,
  };
  const open = [];
  const raw = async (app, opts = {}) => { const c = await h.rawConnect(srv, { key: app.key, ...opts }); open.push(c); return c; };

  before(async () => {
    hooks = await h.webhookReceiver();
    apps.hooked = h.makeApp({
      enable_client_messages: true,
      webhooks: [
        { url: hooks.url('/all') },
        { url: hooks.url('/members'), event_types: ['member_added'] },
      ],
    });
    srv = await h.startServer({ apps: Object.values(apps) });
  });
  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    if (srv) await srv.stop();
    await hooks.close();
  });

  test('max_connections: the connection over the quota gets pusher:error 4004 and close 4004', async () => {
    const a = await raw(apps.limited);
    await raw(apps.limited);
    const c = await raw(apps.limited, { established: false });
    const e = await c.next(() => true, 3000);
    assert.equal(e.event, 'pusher:error', e.__text);
    assert.equal(e.data.code, 4004);
    assert.equal((await c.waitClose(3000)).code, 4004);
    a.close();
    await a.waitClose(3000);
    await h.eventually(async () => {
      const d = await h.rawConnect(srv, { key: apps.limited.key, established: false });
      open.push(d);
      const f = await d.next(() => true, 3000);
      return f.event === 'pusher:connection_established';
    }, { timeoutMs: 5000, what: 'a slot frees up after a close' });
  });

  test('subscription_count: pusher_internal:subscription_count on subscribe/unsubscribe, not on presence', async () => {
    const sdk = h.sdkClient(srv, apps.counting);
    const a = await raw(apps.counting);
    const b = await raw(apps.counting);
    await a.subscribe('counted');
    const c1 = await a.next('pusher_internal:subscription_count', 3000);
    assert.equal(c1.channel, 'counted');
    assert.deepEqual(h.decodeData(c1), { subscription_count: 1 });
    await b.subscribe('counted');
    assert.deepEqual(h.decodeData(await a.next('pusher_internal:subscription_count', 3000)), { subscription_count: 2 });
    assert.deepEqual(h.decodeData(await b.next('pusher_internal:subscription_count', 3000)), { subscription_count: 2 });
    b.unsubscribe('counted');
    assert.deepEqual(h.decodeData(await a.next('pusher_internal:subscription_count', 3000)), { subscription_count: 1 });

    await a.subscribeSigned('presence-counted', sdk, { user_id: '1' });
    await b.subscribeSigned('presence-counted', sdk, { user_id: '2' });
    assert.ok(await a.none((f) => f.event === 'pusher_internal:subscription_count' && f.channel === 'presence-counted', 500));

    const pj = h.pusherClient(srv, { app: apps.counting, sdk });
    open.push(pj);
    const { channel } = await h.subscribe(pj, 'counted');
    await h.eventually(() => channel.subscriptionCount === 2, { timeoutMs: 3000, what: 'pusher-js subscriptionCount 2' });
  });

  test('max_client_events_per_sec: excess client events -> pusher:error 4301, not relayed, connection kept', async () => {
    const sdk = h.sdkClient(srv, apps.chatty);
    const a = await raw(apps.chatty);
    const b = await raw(apps.chatty);
    await a.subscribeSigned('private-chatty', sdk);
    await b.subscribeSigned('private-chatty', sdk);
    for (let i = 0; i < 8; i++) a.send({ event: 'client-burst', channel: 'private-chatty', data: { i } });
    const e = await a.next('pusher:error', 3000);
    assert.equal(e.data.code, 4301);
    await h.sleep(500);
    const relayed = b.all('client-burst').length;
    assert.ok(relayed >= 3 && relayed <= 4, `about 3 of 8 relayed within one second, got ${relayed}`);
    assert.ok(a.isOpen);
    await h.sleep(1100);
    a.send({ event: 'client-later', channel: 'private-chatty', data: {} });
    await b.next('client-later', 3000);
  });

  describe('user authentication', () => {
    test('pusher-js signin -> signin_success; sendToUser reaches every connection of the user', async () => {
      const sdk = h.sdkClient(srv, apps.users);
      const c1 = h.pusherClient(srv, { app: apps.users, sdk, user: { id: 'user-42', user_info: { name: 'X' } } });
      const c2 = h.pusherClient(srv, { app: apps.users, sdk, user: { id: 'user-42' } });
      const other = h.pusherClient(srv, { app: apps.users, sdk, user: { id: 'user-7' } });
      open.push(c1, c2, other);
      const got = [[], [], []];
      [c1, c2, other].forEach((c, i) => c.user.bind('direct', (d) => got[i].push(d)));
      c1.signin();
      c2.signin();
      other.signin();
      await Promise.all([c1, c2, other].map((c) => h.withTimeout(c.user.signinDonePromise, 5000, 'signin')));
      assert.equal(c1.user.user_data.id, 'user-42');
      // pusher-js subscribes to #server-to-user-<id> after signin_success
      await h.eventually(() => c1.user.serverToUserChannel && c1.user.serverToUserChannel.subscribed
        && c2.user.serverToUserChannel && c2.user.serverToUserChannel.subscribed, { timeoutMs: 5000, what: '#server-to-user subscribed' });
      const r = await h.sdkCall('POST', () => sdk.sendToUser('user-42', 'direct', { hi: 1 }));
      assert.equal(r.status, 200, r.text);
      await h.eventually(() => got[0].length === 1 && got[1].length === 1, { timeoutMs: 3000, what: 'both connections of user-42 got the event' });
      assert.deepEqual(got[0][0], { hi: 1 });
      await h.sleep(300);
      assert.equal(got[2].length, 0, 'another user gets nothing');
      const list = await h.ok(h.rest.get(sdk, '/channels'));
      assert.ok(!Object.keys(list.channels).some((n) => n.startsWith('#')), 'internal channels are not listed');
    });

    test('raw signin: signin_success data; bad signature -> pusher:error 4009 and close 4009 (enable_user_authentication)', async () => {
      const sdk = h.sdkClient(srv, apps.users);
      const a = await raw(apps.users);
      const auth = sdk.authenticateUser(a.socketId, { id: 'raw-user' });
      a.send({ event: 'pusher:signin', data: auth });
      const ok = await a.next('pusher:signin_success', 3000);
      assert.equal(typeof ok.data, 'object');
      assert.deepEqual(JSON.parse(ok.data.user_data), { id: 'raw-user' });
      const s = await a.subscribe('#server-to-user-raw-user');
      assert.equal(s.event, 'pusher_internal:subscription_succeeded', s.__text);
      const other = await a.subscribe('#server-to-user-someone-else');
      assert.equal(other.event, 'pusher:subscription_error');
      assert.equal(other.data.status, 403);

      const b = await raw(apps.users);
      b.send({ event: 'pusher:signin', data: { auth: `${apps.users.key}:${'0'.repeat(64)}`, user_data: '{"id":"mallory"}' } });
      const e = await b.next('pusher:error', 3000);
      assert.equal(e.data.code, 4009);
      assert.equal((await b.waitClose(3000)).code, 4009, 'closed: the app enables user authentication');
    });

    test('bad signin on an app with neither enable_user_authentication nor authorized_connections: 4009, connection kept', async () => {
      const plain = apps.counting;
      const b = await raw(plain);
      b.send({ event: 'pusher:signin', data: { auth: `${plain.key}:${'0'.repeat(64)}`, user_data: '{"id":"mallory"}' } });
      const e = await b.next('pusher:error', 3000);
      assert.equal(e.data.code, 4009);
      await b.ping();
      assert.ok(b.isOpen, 'not closed');
    });

    test('signin is always available: it works when the app does not enable user authentication', async () => {
      const plain = apps.counting;
      const sdk = h.sdkClient(srv, plain);
      const a = await raw(plain);
      a.send({ event: 'pusher:signin', data: sdk.authenticateUser(a.socketId, { id: 'u' }) });
      const ok = await a.next('pusher:signin_success', 3000);
      assert.deepEqual(JSON.parse(ok.data.user_data), { id: 'u' });
      const s2 = await a.subscribe('#server-to-user-u');
      assert.equal(s2.event, 'pusher_internal:subscription_succeeded', s2.__text);
      const s3 = await a.subscribe('#server-to-user-v');
      assert.equal(s3.event, 'pusher:subscription_error', s3.__text);
      assert.equal(s3.data.status, 403);
      await h.sleep(1200);
      assert.ok(a.isOpen, 'no sign-in deadline without enable_user_authentication / authorized_connections');
      a.close();
    });

    test('enable_user_authentication: a private subscription is not enough, only a sign-in keeps the connection', async () => {
      const sdk = h.sdkClient(srv, apps.strictUsers);
      const a = await raw(apps.strictUsers);
      await a.subscribeSigned('private-not-a-signin', sdk);
      const b = await raw(apps.strictUsers);
      b.send({ event: 'pusher:signin', data: sdk.authenticateUser(b.socketId, { id: 'signed' }) });
      await b.next('pusher:signin_success', 3000);
      const e = await a.next('pusher:error', 4000);
      assert.equal(e.data.code, 4009);
      assert.equal(e.data.message, 'Connection not authorized within timeout.');
      assert.equal((await a.waitClose(3000)).code, 4009);
      await h.sleep(300);
      assert.ok(b.isOpen, 'the signed-in connection is kept');
    });
  });

  test('terminate_connections closes (4009) every connection signed in as the user, only those', async () => {
    const sdk = h.sdkClient(srv, apps.users);
    const signedIn = async (id) => {
      const c = await raw(apps.users);
      c.send({ event: 'pusher:signin', data: sdk.authenticateUser(c.socketId, { id }) });
      await c.next('pusher:signin_success', 3000);
      return c;
    };
    const a = await signedIn('term-me');
    const b = await signedIn('term-me');
    const other = await signedIn('keep-me');
    const presenceOnly = await raw(apps.users);
    await presenceOnly.subscribeSigned('presence-term', sdk, { user_id: 'term-me' });
    const r = await h.rest.terminate(sdk, 'term-me');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    for (const c of [a, b]) {
      const e = await c.next('pusher:error', 3000);
      assert.equal(e.data.code, 4009);
      assert.equal((await c.waitClose(3000)).code, 4009);
    }
    await h.sleep(300);
    assert.ok(other.isOpen, 'another user is not affected');
    assert.ok(presenceOnly.isOpen, 'a presence member with that user_id that did not sign in is not affected');
    const r2 = await h.rest.terminate(sdk, 'nobody-here');
    assert.equal(r2.status, 200, r2.text);
  });

  test('max_backend_events_per_sec and max_read_requests_per_sec -> 429 with Retry-After', async () => {
    const app = apps.throttled;
    const sdk = h.sdkClient(srv, app);
    const post = (channels) => h.signedRequest(srv, { app, method: 'POST', path: `/apps/${app.id}/events`, body: { name: 'e', data: 'd', channels } });
    const get = () => h.signedRequest(srv, { app, method: 'GET', path: `/apps/${app.id}/channels` });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(['t1'])).status);
    const refused = await post(['t1']);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    assert.equal(refused.status, 429, refused.text);
    assert.ok(Number(refused.headers['retry-after']) >= 1, `Retry-After header: ${refused.headers['retry-after']}`);
    const reads = [];
    for (let i = 0; i < 3; i++) reads.push((await get()).status);
    assert.deepEqual(reads, [200, 200, 200], 'reads have their own bucket');
    const r4 = await get();
    assert.equal(r4.status, 429, r4.text);
    assert.ok(Number(r4.headers['retry-after']) >= 1);
    await h.sleep(1300);
    assert.equal((await post(['t1'])).status, 200, 'the bucket refills');
    assert.equal((await get()).status, 200);
    const wide = await post(['w1', 'w2', 'w3', 'w4', 'w5', 'w6']);
    assert.equal(wide.status, 429, 'one token per (event, channel): 6 channels never fit a burst of 5');
    const viaSdk = await h.rest.trigger(sdk, ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'], 'e', 'd');
    assert.equal(viaSdk.status, 429);
  });

  describe('authorized connections', () => {
    test('an idle connection is closed 4009 after authorization_timeout_ms', async () => {
      const a = await raw(apps.strict);
      const t0 = Date.now();
      const e = await a.next('pusher:error', 4000);
      assert.equal(e.data.code, 4009);
      assert.equal((await a.waitClose(3000)).code, 4009);
      const took = Date.now() - t0;
      assert.ok(took >= 700 && took < 3500, `closed after ~1 s (took ${took} ms)`);
    });

    test('a private subscription or a signin in time keeps the connection', async () => {
      const sdk = h.sdkClient(srv, apps.strict);
      const a = await raw(apps.strict);
      await a.subscribeSigned('private-authz', sdk);
      const b = await raw(apps.strict);
      b.send({ event: 'pusher:signin', data: sdk.authenticateUser(b.socketId, { id: 'in-time' }) });
      await b.next('pusher:signin_success', 3000);
      const c = await raw(apps.strict);
      await c.subscribe('public-only');
      await h.sleep(1800);
      assert.ok(a.isOpen, 'private subscriber kept');
      assert.ok(b.isOpen, 'signed-in connection kept');
      assert.equal((await c.waitClose(2000)).code, 4009, 'a public subscription does not authorize');
    });

    test('failed signin closes 4009 when authorized connections are enforced', async () => {
      const a = await raw(apps.strict);
      a.send({ event: 'pusher:signin', data: { auth: `${apps.strict.key}:${'0'.repeat(64)}`, user_data: '{"id":"x"}' } });
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4009);
      assert.equal((await a.waitClose(3000)).code, 4009);
    });
  });

  describe('webhooks', () => {
    const hookEvents = (p) => hooks.events(p);

    test('channel_occupied / member_added / client_event / channel_vacated, signed and typed', async () => {
      const sdk = h.sdkClient(srv, apps.hooked);
      const a = await raw(apps.hooked);
      await a.subscribe('hook-chan');
      await h.eventually(() => hookEvents('/all').some((e) => e.name === 'channel_occupied' && e.channel === 'hook-chan'),
        { timeoutMs: 5000, what: 'channel_occupied webhook' });

      await a.subscribeSigned('presence-hook', sdk, { user_id: 'hooked-user' });
      await h.eventually(() => hookEvents('/all').some((e) => e.name === 'member_added' && e.channel === 'presence-hook' && e.user_id === 'hooked-user'),
        { timeoutMs: 5000, what: 'member_added webhook' });

      const b = await raw(apps.hooked);
      await a.subscribeSigned('private-hook', sdk);
      await b.subscribeSigned('private-hook', sdk);
      a.send({ event: 'client-ping', channel: 'private-hook', data: { z: 1 } });
      await b.next('client-ping', 3000);
      const ce = await h.eventually(() => hookEvents('/all').find((e) => e.name === 'client_event' && e.channel === 'private-hook'),
        { timeoutMs: 5000, what: 'client_event webhook' });
      assert.equal(ce.event, 'client-ping');
      assert.equal(ce.socket_id, a.socketId);
      assert.equal(typeof ce.data, 'string');
      assert.deepEqual(JSON.parse(ce.data), { z: 1 });

      a.unsubscribe('hook-chan');
      await h.eventually(() => hookEvents('/all').some((e) => e.name === 'channel_vacated' && e.channel === 'hook-chan'),
        { timeoutMs: 8000, what: 'channel_vacated webhook' });

      for (const req of hooks.reqs) {
        assert.equal(req.method, 'POST');
        assert.equal(req.headers['content-type'], 'application/json', 'exactly application/json');
        assert.equal(req.headers['x-pusher-key'], apps.hooked.key);
        const wh = sdk.webhook({ headers: req.headers, rawBody: req.rawBody });
        assert.ok(wh.isValid(), `webhook signature valid: ${req.rawBody}`);
        const body = JSON.parse(req.rawBody);
        assert.equal(typeof body.time_ms, 'number');
        assert.ok(Math.abs(body.time_ms - Date.now()) < 60000);
        assert.ok(Array.isArray(body.events) && body.events.length >= 1);
      }
      // event_types filter: the second endpoint only ever gets member_added
      await h.eventually(() => hookEvents('/members').length >= 1, { timeoutMs: 5000, what: 'member_added on filtered endpoint' });
      assert.deepEqual([...new Set(hookEvents('/members').map((e) => e.name))], ['member_added']);
    });
  });
});
