'use strict';
// Authorized connections (spec 8.1) and connection quotas (max_connections, 4004), per-app limits
// (spec 11 and the max_* app options), REST rate limits (429 + Retry-After), per-IP abuse limits
// (top-level max_connections_per_ip / max_new_connections_per_ip_per_sec / trusted_proxies, 4100)
// and disabled apps (4003 / 403).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./helpers');

/** See 10-users.test.js: releases the 30 s close timer pusher-js leaves after a refusing close. */
function closeTimerReleaser(client) {
  const conn = client.connection.connection;
  const sock = conn && conn.transport && conn.transport.socket;
  return () => { if (sock && sock._closeTimer) clearTimeout(sock._closeTimer); };
}

/** Resolves with the first frame of a raw connection that may be refused before connection_established. */
async function firstFrame(srv, opts) {
  const c = await h.rawConnect(srv, { ...opts, established: false });
  const f = await c.next(() => true, 3000);
  return { c, f };
}

async function expectRefused(srv, opts, code, open) {
  const { c, f } = await firstFrame(srv, opts);
  open.push(c);
  assert.equal(f.event, 'pusher:error', `expected pusher:error ${code}, got ${f.__text}`);
  assert.equal(f.data.code, code, f.__text);
  assert.equal((await c.waitClose(3000)).code, code);
  return f;
}

async function expectAccepted(srv, opts, open) {
  const { c, f } = await firstFrame(srv, opts);
  open.push(c);
  assert.equal(f.event, 'pusher:connection_established', `expected connection_established, got ${f.__text}`);
  c.socketId = JSON.parse(f.data).socket_id;
  return c;
}

describe('authorization, quotas and limits', () => {
  let srv;
  const apps = {
    authz: h.makeApp({ authorized_connections: true, authorization_timeout_ms: 800 }),
    authzQuota: h.makeApp({ authorized_connections: true, authorization_timeout_ms: 4000, max_connections: 1 }),
    quota: h.makeApp({ max_connections: 2 }),
    limits: h.makeApp({
      max_channel_name_length: 20,
      max_event_name_length: 20,
      max_event_payload_in_kb: 1,
      max_event_channels_at_once: 3,
      max_event_batch_size: 2,
      max_presence_members_per_channel: 2,
      max_presence_member_size_in_kb: 1,
    }),
    throttled: h.makeApp({ max_backend_events_per_sec: 5, max_read_requests_per_sec: 3 }),
    disabled: h.makeApp({ enabled: false }),
  };
  const open = [];
  let seq = 0;
  const name = (prefix) => `${prefix}${++seq}`;
  const raw = async (app, opts = {}) => { const c = await h.rawConnect(srv, { key: app.key, ...opts }); open.push(c); return c; };
  const pjs = (app, opts = {}) => { const c = h.pusherClient(srv, { app, ...opts }); open.push(c); return c; };
  const sdkOf = (app) => h.sdkClient(srv, app);
  const signed = (app, opts) => h.signedRequest(srv, { app, ...opts });
  const events = (app, body) => signed(app, { method: 'POST', path: `/apps/${app.id}/events`, body });
  const batch = (app, items) => signed(app, { method: 'POST', path: `/apps/${app.id}/batch_events`, body: { batch: items } });

  before(async () => {
    srv = await h.startServer({ apps: Object.values(apps) });
  });
  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    if (srv) await srv.stop();
  });

  describe('authorized_connections', () => {
    const expectKicked = async (c, t0) => {
      const e = await c.next('pusher:error', 4000);
      assert.equal(e.data.code, 4009, e.__text);
      assert.equal(e.data.message, 'Connection not authorized within timeout.');
      assert.equal((await c.waitClose(3000)).code, 4009);
      const took = Date.now() - t0;
      assert.ok(took >= 600 && took < 3000, `closed after ~800 ms (took ${took} ms)`);
    };

    test('an idle connection gets pusher:error 4009 and close 4009 after authorization_timeout_ms', async () => {
      const t0 = Date.now();
      const a = await raw(apps.authz);
      await expectKicked(a, t0);
    });

    test('a public subscription or a refused private subscription does not authorize', async () => {
      const t0 = Date.now();
      const a = await raw(apps.authz);
      const b = await raw(apps.authz);
      assert.equal((await a.subscribe('public-only')).event, 'pusher_internal:subscription_succeeded');
      assert.equal((await a.subscribe('cache-public-only')).event, 'pusher_internal:subscription_succeeded');
      const bad = await b.subscribe('private-x', { auth: `${apps.authz.key}:${'0'.repeat(64)}` });
      assert.equal(bad.event, 'pusher:subscription_error');
      await expectKicked(a, t0);
      await expectKicked(b, t0);
    });

    test('a private, encrypted or presence subscription, or a sign-in, in time keeps the connection', async () => {
      const sdk = h.sdkClient(srv, apps.authz, { encryptionMasterKeyBase64: Buffer.alloc(32, 1).toString('base64') });
      const a = await raw(apps.authz);
      const b = await raw(apps.authz);
      const c = await raw(apps.authz);
      const d = await raw(apps.authz);
      assert.equal((await a.subscribeSigned('private-authz', sdk)).event, 'pusher_internal:subscription_succeeded');
      assert.equal((await b.subscribeSigned('presence-authz', sdk, { user_id: 'p1' })).event, 'pusher_internal:subscription_succeeded');
      c.send({ event: 'pusher:signin', data: sdk.authenticateUser(c.socketId, { id: 'in-time' }) });
      await c.next('pusher:signin_success', 3000);
      assert.equal((await d.subscribeSigned('private-encrypted-authz', sdk)).event, 'pusher_internal:subscription_succeeded');
      const pj = pjs(apps.authz, { sdk });
      await h.subscribe(pj, 'private-authz-pj');
      await h.sleep(1500);
      for (const [label, x] of [['private', a], ['presence', b], ['signed in', c], ['encrypted', d]]) {
        assert.ok(x.isOpen, `${label} kept: ${x.historyText()}`);
        await x.ping();
      }
      assert.equal(pj.connection.state, 'connected', 'pusher-js with a private channel kept');
    });

    test('pusher-js that does nothing is refused (4009) and stays disconnected', async () => {
      const pj = pjs(apps.authz);
      const errors = [];
      pj.connection.bind('error', (e) => errors.push(e));
      await h.connected(pj);
      const release = closeTimerReleaser(pj);
      await h.eventually(() => pj.connection.state === 'disconnected', { timeoutMs: 4000, what: `pusher-js disconnected (${pj.connection.state})` });
      release();
      await h.sleep(1200);
      assert.equal(pj.connection.state, 'disconnected', 'no reconnect after 4009');
      assert.ok(errors.some((e) => JSON.stringify(e).includes('4009')), `error event names 4009: ${JSON.stringify(errors)}`);
    });

    test('a failed sign-in closes with 4009', async () => {
      const a = await raw(apps.authz);
      a.send({ event: 'pusher:signin', data: { auth: `${apps.authz.key}:${'0'.repeat(64)}`, user_data: '{"id":"x"}' } });
      assert.equal((await a.next('pusher:error', 3000)).data.code, 4009);
      assert.equal((await a.waitClose(3000)).code, 4009);
    });

    test('max_connections counts authorized connections only: the second to authorize gets 4004', async () => {
      const app = apps.authzQuota;
      const sdk = sdkOf(app);
      const a = await raw(app);
      const b = await raw(app);
      const c = await raw(app); // three idle connections over a quota of 1: all accepted
      assert.equal((await a.subscribeSigned('private-q', sdk)).event, 'pusher_internal:subscription_succeeded');
      b.send({ event: 'pusher:signin', data: sdk.authenticateUser(b.socketId, { id: 'late' }) });
      const e = await b.next((f) => f.event === 'pusher:error' || f.event === 'pusher:signin_success', 3000);
      assert.equal(e.event, 'pusher:error', e.__text);
      assert.equal(e.data.code, 4004, e.__text);
      assert.equal((await b.waitClose(3000)).code, 4004);
      assert.equal(b.all('pusher:signin_success').length, 0);
      const f = await c.subscribeSigned('private-q', sdk).catch((err) => ({ event: 'closed', err }));
      assert.notEqual(f.event, 'pusher_internal:subscription_succeeded', 'no slot for the third either');
      assert.equal((await c.waitClose(3000)).code, 4004);
      assert.ok(a.isOpen, 'the first to authorize is kept');
      await a.ping();
      // the slot frees when the authorized one leaves
      a.close();
      await a.waitClose(3000);
      await h.eventually(async () => {
        const d = await raw(app);
        const r = await d.subscribeSigned('private-q', sdk).catch(() => null);
        return r && r.event === 'pusher_internal:subscription_succeeded';
      }, { timeoutMs: 3000, what: 'a new connection can authorize after the slot is freed' });
    });
  });

  describe('max_connections without authorized_connections', () => {
    test('the (max_connections+1)-th connection gets pusher:error 4004 and close 4004 at connect', async () => {
      const app = apps.quota;
      const a = await expectAccepted(srv, { key: app.key }, open);
      await expectAccepted(srv, { key: app.key }, open);
      const e = await expectRefused(srv, { key: app.key }, 4004, open);
      assert.equal(typeof e.data.message, 'string');
      a.close();
      await a.waitClose(3000);
      await h.eventually(async () => {
        const { c, f } = await firstFrame(srv, { key: app.key });
        open.push(c);
        return f.event === 'pusher:connection_established';
      }, { timeoutMs: 3000, what: 'a slot frees up after a close' });
    });
  });

  describe('per-app limits', () => {
    const app = apps.limits;
    const ch20 = 'c'.repeat(20);
    const ch21 = 'c'.repeat(21);

    test('channel name over max_channel_name_length: subscription_error InvalidChannel 400, REST 400', async () => {
      const a = await raw(app);
      assert.equal((await a.subscribe(ch20)).event, 'pusher_internal:subscription_succeeded');
      const e = await a.subscribe(ch21);
      assert.equal(e.event, 'pusher:subscription_error', e.__text);
      assert.equal(e.data.type, 'InvalidChannel');
      assert.equal(e.data.status, 400);
      assert.match(e.data.error, /max_channel_name_length/, 'the error names the limit');
      const pe = await a.subscribe(`presence-${'p'.repeat(12)}`, { channel_data: '{"user_id":"1"}' });
      assert.equal(pe.data.type, 'InvalidChannel', 'name checked before auth');
      assert.ok(a.isOpen);
      assert.equal((await events(app, { name: 'e', data: 'd', channels: [ch20] })).status, 200);
      const r = await events(app, { name: 'e', data: 'd', channels: [ch21] });
      assert.equal(r.status, 400, r.text);
      assert.equal((await batch(app, [{ channel: ch21, name: 'e', data: 'd' }])).status, 400);
      assert.equal((await signed(app, { method: 'GET', path: `/apps/${app.id}/channels/${ch21}` })).status, 400);
    });

    test('event name over max_event_name_length -> REST 400 (events and batch)', async () => {
      assert.equal((await events(app, { name: 'e'.repeat(20), data: 'd', channels: ['ok'] })).status, 200);
      const r = await events(app, { name: 'e'.repeat(21), data: 'd', channels: ['ok'] });
      assert.equal(r.status, 400, r.text);
      assert.equal((await batch(app, [{ channel: 'ok', name: 'e'.repeat(21), data: 'd' }])).status, 400);
    });

    test('payload over max_event_payload_in_kb -> REST 413; client event -> 4301 and not relayed', async () => {
      const sdk = sdkOf(app);
      const a = await raw(app);
      const b = await raw(app);
      await a.subscribe('pay');
      await a.subscribeSigned('private-pay', sdk);
      await b.subscribeSigned('private-pay', sdk);
      assert.equal((await events(app, { name: 'big', data: 'x'.repeat(1024), channels: ['pay'] })).status, 200);
      assert.equal((await a.next('big', 3000)).data.length, 1024);
      const r = await events(app, { name: 'big2', data: 'x'.repeat(1025), channels: ['pay'] });
      assert.equal(r.status, 413, r.text);
      assert.equal((await batch(app, [{ channel: 'pay', name: 'big2', data: 'x'.repeat(1025) }])).status, 413);
      assert.ok(await a.none('big2', 200));
      // client events: the serialized data counts
      a.send({ event: 'client-small', channel: 'private-pay', data: 'y'.repeat(1000) });
      await b.next('client-small', 3000);
      a.send({ event: 'client-huge', channel: 'private-pay', data: 'y'.repeat(1100) });
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4301, e.__text);
      assert.match(e.data.message, /max_event_payload_in_kb/, 'the error names the limit');
      assert.ok(await b.none('client-huge', 300));
      assert.ok(a.isOpen);
    });

    test('more than max_event_channels_at_once channels -> 400; more than max_event_batch_size events -> 400', async () => {
      const a = await raw(app);
      await a.subscribe('m1');
      assert.equal((await events(app, { name: 'e', data: 'three', channels: ['m1', 'm2', 'm3'] })).status, 200);
      await a.next('e', 3000);
      const r = await events(app, { name: 'e', data: 'four', channels: ['m1', 'm2', 'm3', 'm4'] });
      assert.equal(r.status, 400, r.text);
      const ok2 = await batch(app, [{ channel: 'm1', name: 'b', data: '1' }, { channel: 'm1', name: 'b', data: '2' }]);
      assert.equal(ok2.status, 200, ok2.text);
      const r3 = await batch(app, [1, 2, 3].map((i) => ({ channel: 'm1', name: 'b', data: `x${i}` })));
      assert.equal(r3.status, 400, r3.text);
      await h.sleep(200);
      assert.deepEqual(a.all('e').map((f) => f.data), ['three'], 'nothing delivered for the refused trigger');
      assert.deepEqual(a.all('b').map((f) => f.data), ['1', '2'], 'nothing delivered for the refused batch');
    });

    test('presence members over max_presence_members_per_channel -> LimitReached 4100 (another tab of a member is fine)', async () => {
      const sdk = sdkOf(app);
      const ch = 'presence-full';
      const c = await Promise.all([1, 2, 3, 4].map(() => raw(app)));
      assert.equal((await c[0].subscribeSigned(ch, sdk, { user_id: 'one' })).event, 'pusher_internal:subscription_succeeded');
      assert.equal((await c[1].subscribeSigned(ch, sdk, { user_id: 'two' })).event, 'pusher_internal:subscription_succeeded');
      const e = await c[2].subscribeSigned(ch, sdk, { user_id: 'three' });
      assert.equal(e.event, 'pusher:subscription_error', e.__text);
      assert.equal(e.data.type, 'LimitReached');
      assert.equal(e.data.status, 4100);
      assert.match(e.data.error, /max_presence_members_per_channel/, 'the error names the limit');
      assert.ok(c[2].isOpen);
      assert.equal((await c[3].subscribeSigned(ch, sdk, { user_id: 'one' })).event, 'pusher_internal:subscription_succeeded');
      const users = await h.ok(h.rest.get(sdk, `/channels/${ch}/users`));
      assert.deepEqual(users.users.map((u) => u.id).sort(), ['one', 'two']);
      assert.ok(await c[0].none((f) => f.event === 'pusher_internal:member_added' && f.data.includes('three'), 100));
    });

    test('user_info over max_presence_member_size_in_kb -> LimitReached 4301 (channel_data and signed-in user)', async () => {
      const sdk = sdkOf(app);
      const a = await raw(app);
      assert.equal((await a.subscribeSigned('presence-info', sdk, { user_id: 'small', user_info: { s: 'x'.repeat(1000) } })).event,
        'pusher_internal:subscription_succeeded');
      const b = await raw(app);
      const e = await b.subscribeSigned('presence-info', sdk, { user_id: 'big', user_info: { s: 'x'.repeat(1100) } });
      assert.equal(e.event, 'pusher:subscription_error', e.__text);
      assert.equal(e.data.type, 'LimitReached');
      assert.equal(e.data.status, 4301);
      assert.match(e.data.error, /max_presence_member_size_in_kb/, 'the error names the limit');
      const c = await raw(app);
      c.send({ event: 'pusher:signin', data: sdk.authenticateUser(c.socketId, { id: 'big-signed', user_info: { s: 'x'.repeat(1100) } }) });
      await c.next('pusher:signin_success', 3000);
      const e2 = await c.subscribeSigned('presence-info2', sdk);
      assert.equal(e2.event, 'pusher:subscription_error', e2.__text);
      assert.equal(e2.data.type, 'LimitReached');
      assert.equal(e2.data.status, 4301);
    });

    test('REST limit error bodies name the limit they enforce', async () => {
      const cases = [
        ['max_channel_name_length', await events(app, { name: 'e', data: 'd', channels: [ch21] })],
        ['max_event_name_length', await events(app, { name: 'e'.repeat(21), data: 'd', channels: ['ok'] })],
        ['max_event_payload_in_kb', await events(app, { name: 'e', data: 'x'.repeat(1025), channels: ['ok'] })],
        ['max_event_channels_at_once', await events(app, { name: 'e', data: 'd', channels: ['a', 'b', 'c', 'd'] })],
        ['max_event_batch_size', await batch(app, [1, 2, 3].map(() => ({ channel: 'ok', name: 'b', data: 'x' })))],
      ];
      const missing = cases.filter(([limit, r]) => r.status < 400 || !r.text.includes(limit))
        .map(([limit, r]) => `${limit}: ${r.status} ${r.text}`);
      assert.deepEqual(missing, [], 'every error body names its option');
    });
  });

  describe('REST rate limits', () => {
    const app = apps.throttled;
    const get = () => signed(app, { method: 'GET', path: `/apps/${app.id}/channels` });

    test('max_backend_events_per_sec -> 429 with Retry-After; one point per (event, channel); nothing delivered', async () => {
      const a = await raw(app);
      await a.subscribe('t1');
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await events(app, { name: 'e', data: `ok${i}`, channels: ['t1'] })).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      const refused = await events(app, { name: 'e', data: 'refused', channels: ['t1'] });
      assert.equal(refused.status, 429, refused.text);
      assert.ok(Number(refused.headers['retry-after']) >= 1, `Retry-After: ${refused.headers['retry-after']}`);
      assert.match(refused.text, /max_backend_events_per_sec/, 'the body names the limit');
      const viaSdk = await h.rest.trigger(sdkOf(app), 't1', 'e', 'sdk-refused');
      assert.equal(viaSdk.status, 429);
      await h.sleep(300);
      assert.ok(!a.all('e').some((f) => /refused/.test(f.data)), 'a refused request delivers nothing');

      await h.sleep(1100); // refill to 5
      assert.equal((await events(app, { name: 'w', data: '3', channels: ['t1', 'w2', 'w3'] })).status, 200, '3 points');
      const r2 = await events(app, { name: 'w', data: 'again', channels: ['t1', 'w2', 'w3'] });
      assert.equal(r2.status, 429, `3 more points do not fit in the 2 left: ${r2.text}`);
      assert.equal((await events(app, { name: 'w', data: '2', channels: ['t1', 'w2'] })).status, 200, '2 points fit');
      await h.sleep(1100);
      const wide = await events(app, { name: 'w', data: 'six', channels: ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'] });
      assert.equal(wide.status, 429, '6 channels never fit a bucket of 5');
      const b = await batch(app, [1, 2, 3, 4, 5].map((i) => ({ channel: 't1', name: 'bb', data: `${i}` })));
      assert.equal(b.status, 200, `a batch of 5 costs 5: ${b.text}`);
      const b2 = await batch(app, [{ channel: 't1', name: 'bb', data: 'over' }]);
      assert.equal(b2.status, 429);
    });

    test('max_read_requests_per_sec -> 429 on GETs, with its own bucket', async () => {
      await h.sleep(1100);
      const reads = [];
      for (let i = 0; i < 3; i++) reads.push((await get()).status);
      assert.deepEqual(reads, [200, 200, 200]);
      const r4 = await get();
      assert.equal(r4.status, 429, r4.text);
      assert.ok(Number(r4.headers['retry-after']) >= 1, `Retry-After: ${r4.headers['retry-after']}`);
      assert.match(r4.text, /max_read_requests_per_sec/, 'the body names the limit');
      const other = await signed(app, { method: 'GET', path: `/apps/${app.id}/channels/t1` });
      assert.equal(other.status, 429, 'every GET route counts');
      assert.equal((await events(app, { name: 'e', data: 'd', channels: ['t1'] })).status, 200, 'events are not read requests');
      await h.sleep(1100);
      assert.equal((await get()).status, 200, 'the bucket refills');
    });
  });

  describe('disabled app', () => {
    test('new connections get pusher:error 4003 + close 4003; REST calls get 403', async () => {
      const app = apps.disabled;
      await expectRefused(srv, { key: app.key }, 4003, open);
      const r1 = await signed(app, { method: 'GET', path: `/apps/${app.id}/channels` });
      assert.equal(r1.status, 403, r1.text);
      const r2 = await events(app, { name: 'e', data: 'd', channels: ['x'] });
      assert.equal(r2.status, 403, r2.text);
      const r3 = await h.rest.terminate(sdkOf(app), 'someone');
      assert.equal(r3.status, 403, r3.text);
    });
  });
});

describe('per-IP abuse limits (top-level options)', () => {
  const open = [];
  after(() => { for (const c of open) c.terminate(); });
  const xff = (ip) => ({ headers: { 'X-Forwarded-For': ip } });

  test('max_connections_per_ip: 2 -> the third concurrent connection gets 4100; a close frees a slot', async (t) => {
    const srv = await h.useServer(t, { config: { max_connections_per_ip: 2 } });
    const a = await expectAccepted(srv, {}, open);
    await expectAccepted(srv, {}, open);
    const e = await expectRefused(srv, {}, 4100, open);
    assert.equal(typeof e.data.message, 'string');
    // another app on the same server shares the per-IP count: still the same address
    a.close();
    await a.waitClose(3000);
    await h.eventually(async () => {
      const { c, f } = await firstFrame(srv, {});
      open.push(c);
      return f.event === 'pusher:connection_established';
    }, { timeoutMs: 3000, what: 'a slot frees up after a close' });
  });

  test('without trusted_proxies the X-Forwarded-For header is ignored', async (t) => {
    const srv = await h.useServer(t, { config: { max_connections_per_ip: 2 } });
    await expectAccepted(srv, xff('10.1.0.1'), open);
    await expectAccepted(srv, xff('10.1.0.2'), open);
    await expectRefused(srv, xff('10.1.0.3'), 4100, open);
  });

  test('max_new_connections_per_ip_per_sec: 3 -> the 4th within a second gets 4100; a second later works', async (t) => {
    const srv = await h.useServer(t, { config: { max_new_connections_per_ip_per_sec: 3 } });
    await expectAccepted(srv, {}, open);
    await expectAccepted(srv, {}, open);
    await expectAccepted(srv, {}, open);
    await expectRefused(srv, {}, 4100, open);
    await h.sleep(1050);
    const c = await expectAccepted(srv, {}, open);
    await c.ping();
  });

  test('trusted_proxies: max_connections_per_ip applies per X-Forwarded-For address', async (t) => {
    const srv = await h.useServer(t, { config: { max_connections_per_ip: 2, trusted_proxies: ['127.0.0.1'] } });
    await expectAccepted(srv, xff('10.2.0.1'), open);
    await expectAccepted(srv, xff('10.2.0.1'), open);
    await expectAccepted(srv, xff('10.2.0.2'), open);
    await expectAccepted(srv, xff('10.2.0.2'), open);
    await expectRefused(srv, xff('10.2.0.1'), 4100, open);
    await expectRefused(srv, xff('10.2.0.2'), 4100, open);
    // without the header the proxy's own address counts
    await expectAccepted(srv, {}, open);
    await expectAccepted(srv, {}, open);
    await expectRefused(srv, {}, 4100, open);
  });

  test('trusted_proxies: max_new_connections_per_ip_per_sec applies per X-Forwarded-For address', async (t) => {
    const srv = await h.useServer(t, { config: { max_new_connections_per_ip_per_sec: 3, trusted_proxies: ['127.0.0.1'] } });
    for (let i = 0; i < 3; i++) await expectAccepted(srv, xff('10.3.0.1'), open);
    await expectRefused(srv, xff('10.3.0.1'), 4100, open);
    for (let i = 0; i < 3; i++) await expectAccepted(srv, xff('10.3.0.2'), open);
    await expectRefused(srv, xff('10.3.0.2'), 4100, open);
  });
});
