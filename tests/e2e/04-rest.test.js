'use strict';
// REST API (spec 9): trigger, batch, channel queries, every error status, encrypted round trip.
// Every response goes through the openapi.yaml checker (helpers.rest.* / helpers.signedRequest).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./helpers');

const MASTER_KEY = crypto.randomBytes(32).toString('base64');
let uniq = 0;
const name = (prefix) => `${prefix}${Date.now().toString(36)}-${++uniq}`;

describe('REST API', () => {
  let srv;
  let sdk;
  let app;
  const disabled = h.makeApp({ enabled: false });
  const open = [];

  before(async () => {
    app = h.makeApp();
    srv = await h.startServer({ apps: [app, disabled] });
    sdk = h.sdkClient(srv, app, { encryptionMasterKeyBase64: MASTER_KEY });
  });
  after(() => {
    for (const c of open) {
      if (c.ws) c.close(); else h.disconnectAll(c);
    }
    return srv && srv.stop();
  });
  const raw = async (opts) => { const c = await h.rawConnect(srv, opts); open.push(c); return c; };
  const pjs = (opts = {}) => { const c = h.pusherClient(srv, { sdk, ...opts }); open.push(c); return c; };
  const signed = (opts) => h.signedRequest(srv, { app, ...opts });
  const eventsPath = () => `/apps/${app.id}/events`;

  describe('POST /events', () => {
    test('single channel: data string relayed byte for byte; response {} with JSON content type', async () => {
      const ch = name('single-');
      const r1 = await raw();
      await r1.subscribe(ch);
      const data = '{"message":"hello","n":[1,2.50,"\\u00e9"]}';
      const res = await h.rest.trigger(sdk, ch, 'my-event', data);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, {});
      assert.match(res.contentType, /^application\/json/);
      const f = await r1.next('my-event', 3000);
      assert.equal(f.channel, ch);
      assert.equal(f.data, data, 'data string is relayed unchanged');
      assert.equal(f.user_id, undefined);
    });

    test('non-JSON data string and pusher-js decoding', async () => {
      const ch = name('text-');
      const c = pjs();
      const { channel } = await h.subscribe(c, ch);
      const rec = h.recorder(channel);
      await h.ok(h.rest.trigger(sdk, ch, 'txt', 'just text'));
      await h.ok(h.rest.trigger(sdk, ch, 'obj', { a: [1, 2] }));
      assert.equal((await rec.wait('txt', 3000)).data, 'just text');
      assert.deepEqual((await rec.wait('obj', 3000)).data, { a: [1, 2] });
    });

    test('"channel" (singular) member is accepted', async () => {
      const ch = name('singular-');
      const r1 = await raw();
      await r1.subscribe(ch);
      const res = await signed({ method: 'POST', path: eventsPath(), body: { name: 'ev', data: 'd', channel: ch } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {});
      assert.equal((await r1.next('ev', 3000)).data, 'd');
    });

    test('multi-channel trigger reaches every channel once', async () => {
      const chans = [name('m1-'), name('m2-'), name('m3-')];
      const clients = [];
      for (const ch of chans) {
        const r1 = await raw();
        await r1.subscribe(ch);
        clients.push(r1);
      }
      const both = await raw();
      await both.subscribe(chans[0]);
      await both.subscribe(chans[1]);
      const res = await h.rest.trigger(sdk, chans, 'multi', 'x');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {});
      for (let i = 0; i < chans.length; i++) {
        const f = await clients[i].next('multi', 3000);
        assert.equal(f.channel, chans[i]);
        assert.ok(await clients[i].none('multi', 100));
      }
      await both.next((f) => f.event === 'multi' && f.channel === chans[0], 3000);
      await both.next((f) => f.event === 'multi' && f.channel === chans[1], 3000);
      assert.equal(both.all('multi').length, 2, 'one delivery per subscribed channel');
    });

    test('100 channels accepted', async () => {
      const chans = Array.from({ length: 100 }, (_, i) => `hundred-${i}`);
      const r1 = await raw();
      await r1.subscribe('hundred-99');
      await h.ok(h.rest.trigger(sdk, chans, 'ev100', 'x'));
      await r1.next('ev100', 3000);
    });

    test('socket_id excludes that connection (two pusher-js clients)', async () => {
      const ch = name('excl-');
      const c1 = pjs();
      const c2 = pjs();
      const s1 = await h.subscribe(c1, ch);
      const s2 = await h.subscribe(c2, ch);
      const rec1 = h.recorder(s1.channel);
      const rec2 = h.recorder(s2.channel);
      const sid1 = c1.connection.socket_id;
      await h.ok(h.rest.trigger(sdk, ch, 'excluded', { from: 'rest' }, { socket_id: sid1 }));
      await rec2.wait('excluded', 3000);
      await h.sleep(400);
      assert.equal(rec1.named('excluded').length, 0, 'the excluded socket does not receive the event');
      await h.ok(h.rest.trigger(sdk, ch, 'everyone', {}));
      await rec1.wait('everyone', 3000);
      await rec2.wait('everyone', 3000);
    });

    test('info=subscription_count,user_count returns per-channel counts', async () => {
      const pub = name('info-pub-');
      const pres = name('presence-info-');
      const a = await raw();
      const b = await raw();
      await a.subscribe(pub);
      await b.subscribe(pub);
      await a.subscribeSigned(pres, sdk, { user_id: 'u1' });
      await b.subscribeSigned(pres, sdk, { user_id: 'u2' });
      const c = await raw();
      await c.subscribeSigned(pres, sdk, { user_id: 'u2' });

      const r1 = await h.ok(h.rest.trigger(sdk, pub, 'e', 'x', { info: 'subscription_count' }));
      assert.deepEqual(r1, { channels: { [pub]: { subscription_count: 2 } } });
      const r2 = await h.ok(h.rest.trigger(sdk, pres, 'e', 'x', { info: 'user_count,subscription_count' }));
      assert.deepEqual(r2, { channels: { [pres]: { user_count: 2, subscription_count: 3 } } });
      const empty = name('info-empty-');
      const r3 = await h.ok(h.rest.trigger(sdk, [pub, empty], 'e', 'x', { info: 'subscription_count' }));
      assert.deepEqual(r3, { channels: { [pub]: { subscription_count: 2 }, [empty]: { subscription_count: 0 } } });
    });

    test('data of exactly 10240 bytes is accepted, 10241 -> 413', async () => {
      const ch = name('size-');
      const r1 = await raw();
      await r1.subscribe(ch);
      const okData = 'a'.repeat(10240);
      await h.ok(h.rest.trigger(sdk, ch, 'big', okData));
      assert.equal((await r1.next('big', 3000)).data.length, 10240);
      const res = await h.rest.trigger(sdk, ch, 'too-big', 'a'.repeat(10241));
      assert.equal(res.status, 413, res.text);
      assert.equal(typeof res.body.error, 'string');
      assert.ok(await r1.none('too-big', 300));
    });
  });

  describe('POST /batch_events', () => {
    test('events are delivered in order; response {} without info', async () => {
      const ch = name('batch-');
      const r1 = await raw();
      await r1.subscribe(ch);
      const batch = Array.from({ length: 10 }, (_, i) => ({ channel: ch, name: 'b', data: String(i) }));
      const res = await h.rest.triggerBatch(sdk, batch);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, {});
      for (let i = 0; i < 10; i++) assert.equal((await r1.next('b', 3000)).data, String(i));
    });

    test('info -> {"batch":[...]} index-aligned', async () => {
      const ch = name('batch-info-');
      const pres = name('presence-batch-');
      const r1 = await raw();
      await r1.subscribe(ch);
      await r1.subscribeSigned(pres, sdk, { user_id: 'bu' });
      const res = await h.ok(h.rest.triggerBatch(sdk, [
        { channel: ch, name: 'x', data: '1' },
        { channel: ch, name: 'x', data: '2', info: 'subscription_count' },
        { channel: pres, name: 'x', data: '3', info: 'user_count,subscription_count' },
      ]));
      assert.deepEqual(res, { batch: [{}, { subscription_count: 1 }, { user_count: 1, subscription_count: 1 }] });
    });

    test('batch socket_id exclusion', async () => {
      const ch = name('batch-excl-');
      const a = await raw();
      const b = await raw();
      await a.subscribe(ch);
      await b.subscribe(ch);
      await h.ok(h.rest.triggerBatch(sdk, [{ channel: ch, name: 'bx', data: '1', socket_id: a.socketId }]));
      await b.next('bx', 3000);
      assert.ok(await a.none('bx', 400));
    });

    test('11 events -> 400 and nothing delivered', async () => {
      const ch = name('batch-11-');
      const r1 = await raw();
      await r1.subscribe(ch);
      const batch = Array.from({ length: 11 }, (_, i) => ({ channel: ch, name: 'b11', data: String(i) }));
      const res = await h.rest.triggerBatch(sdk, batch);
      assert.equal(res.status, 400, res.text);
      assert.ok(await r1.none('b11', 400));
    });

    test('one invalid item fails the whole batch (400), one oversized item -> 413; nothing delivered', async () => {
      const ch = name('batch-bad-');
      const r1 = await raw();
      await r1.subscribe(ch);
      const bad = await h.rest.triggerBatch(sdk, [
        { channel: ch, name: 'bb', data: '1' },
        { channel: 'bad channel', name: 'bb', data: '2' },
      ]);
      assert.equal(bad.status, 400, bad.text);
      const big = await h.rest.triggerBatch(sdk, [
        { channel: ch, name: 'bb', data: '1' },
        { channel: ch, name: 'bb', data: 'z'.repeat(10241) },
      ]);
      assert.equal(big.status, 413, big.text);
      assert.ok(await r1.none('bb', 400));
    });

    test('empty batch and missing batch -> 400', async () => {
      const p = `/apps/${app.id}/batch_events`;
      assert.equal((await signed({ method: 'POST', path: p, body: { batch: [] } })).status, 400);
      assert.equal((await signed({ method: 'POST', path: p, body: {} })).status, 400);
      assert.equal((await signed({ method: 'POST', path: p, body: { batch: [{ channel: 'x', name: 'y' }] } })).status, 400);
    });
  });

  describe('GET /channels, /channels/{name}, /channels/{name}/users', () => {
    let tag;
    const subs = {};
    before(async () => {
      tag = `q${Date.now().toString(36)}`;
      const a = await raw();
      const b = await raw();
      subs.a = a;
      subs.b = b;
      await a.subscribe(`${tag}-foo-1`);
      await b.subscribe(`${tag}-foo-1`);
      await a.subscribe(`${tag}-foo-2`);
      await a.subscribe(`${tag}-bar`);
      await a.subscribeSigned(`presence-${tag}-p`, sdk, { user_id: '1' });
      await b.subscribeSigned(`presence-${tag}-p`, sdk, { user_id: '2' });
      const c = await raw();
      subs.c = c;
      await c.subscribeSigned(`presence-${tag}-p`, sdk, { user_id: '2' });
    });

    test('list without info maps every occupied channel to {}', async () => {
      const res = await h.ok(h.rest.get(sdk, '/channels'));
      for (const ch of [`${tag}-foo-1`, `${tag}-foo-2`, `${tag}-bar`, `presence-${tag}-p`]) {
        assert.deepEqual(res.channels[ch], {}, `${ch} listed as {}`);
      }
    });

    test('filter_by_prefix', async () => {
      const res = await h.ok(h.rest.get(sdk, '/channels', { filter_by_prefix: `${tag}-foo-` }));
      assert.deepEqual(res, { channels: { [`${tag}-foo-1`]: {}, [`${tag}-foo-2`]: {} } });
    });

    test('info=subscription_count', async () => {
      const res = await h.ok(h.rest.get(sdk, '/channels', { filter_by_prefix: `${tag}-foo-`, info: 'subscription_count' }));
      assert.deepEqual(res, { channels: { [`${tag}-foo-1`]: { subscription_count: 2 }, [`${tag}-foo-2`]: { subscription_count: 1 } } });
    });

    test('info=user_count with a presence- prefix', async () => {
      const res = await h.ok(h.rest.get(sdk, '/channels', { filter_by_prefix: `presence-${tag}`, info: 'user_count' }));
      assert.deepEqual(res, { channels: { [`presence-${tag}-p`]: { user_count: 2 } } });
    });

    test('info=user_count without a presence- prefix -> 400', async () => {
      const r1 = await h.rest.get(sdk, '/channels', { info: 'user_count' });
      assert.equal(r1.status, 400, r1.text);
      const r2 = await h.rest.get(sdk, '/channels', { filter_by_prefix: `${tag}-`, info: 'user_count' });
      assert.equal(r2.status, 400, r2.text);
    });

    test('unknown info attribute -> 400', async () => {
      const r1 = await h.rest.get(sdk, '/channels', { info: 'bogus' });
      assert.equal(r1.status, 400, r1.text);
      const r2 = await h.rest.get(sdk, `/channels/${tag}-foo-1`, { info: 'bogus' });
      assert.equal(r2.status, 400, r2.text);
    });

    test('channels disappear from the list once unoccupied', async () => {
      const ch = `${tag}-gone`;
      const r1 = await raw();
      await r1.subscribe(ch);
      assert.ok(ch in (await h.ok(h.rest.get(sdk, '/channels', { filter_by_prefix: ch }))).channels);
      r1.unsubscribe(ch);
      await r1.ping();
      await h.eventually(async () => !(ch in (await h.ok(h.rest.get(sdk, '/channels', { filter_by_prefix: ch }))).channels),
        { timeoutMs: 3000, what: 'channel gone from list' });
    });

    test('GET /channels/{name}: occupied, counts when requested', async () => {
      assert.deepEqual(await h.ok(h.rest.get(sdk, `/channels/${tag}-foo-1`)), { occupied: true });
      assert.deepEqual(await h.ok(h.rest.get(sdk, `/channels/${tag}-foo-1`, { info: 'subscription_count' })),
        { occupied: true, subscription_count: 2 });
      assert.deepEqual(await h.ok(h.rest.get(sdk, `/channels/presence-${tag}-p`, { info: 'user_count,subscription_count' })),
        { occupied: true, user_count: 2, subscription_count: 3 });
    });

    test('GET /channels/{name}: unknown channel is unoccupied', async () => {
      assert.deepEqual(await h.ok(h.rest.get(sdk, `/channels/${tag}-nobody`)), { occupied: false });
      const withCount = await h.ok(h.rest.get(sdk, `/channels/${tag}-nobody`, { info: 'subscription_count' }));
      assert.equal(withCount.occupied, false);
      assert.equal(withCount.subscription_count, 0);
    });

    test('GET /channels/{name}: user_count on a non-presence channel -> 400', async () => {
      const r1 = await h.rest.get(sdk, `/channels/${tag}-foo-1`, { info: 'user_count' });
      assert.equal(r1.status, 400, r1.text);
    });

    test('GET /channels/{name}: invalid or too long name -> 400', async () => {
      const r1 = await h.rest.get(sdk, `/channels/${'n'.repeat(201)}`);
      assert.equal(r1.status, 400, r1.text);
    });

    test('GET /channels/{presence}/users lists distinct users', async () => {
      const res = await h.ok(h.rest.get(sdk, `/channels/presence-${tag}-p/users`));
      assert.deepEqual(res.users.map((u) => u.id).sort(), ['1', '2']);
    });

    test('GET /channels/{non-presence}/users -> 400', async () => {
      const r1 = await h.rest.get(sdk, `/channels/${tag}-foo-1/users`);
      assert.equal(r1.status, 400, r1.text);
      const r2 = await h.rest.get(sdk, `/channels/private-${tag}/users`);
      assert.equal(r2.status, 400, r2.text);
    });

    test('unoccupied presence channel has no users', async () => {
      const res = await h.ok(h.rest.get(sdk, `/channels/presence-${tag}-empty/users`));
      assert.deepEqual(res, { users: [] });
    });
  });

  describe('error statuses', () => {
    const body = () => ({ name: 'e', data: 'd', channels: ['err-ch'] });

    test('400: malformed JSON body', async () => {
      const r1 = await signed({ method: 'POST', path: eventsPath(), body: '{"name": "e", "data": ' });
      assert.equal(r1.status, 400, r1.text);
      const r2 = await signed({ method: 'POST', path: eventsPath(), body: '[1,2]' });
      assert.equal(r2.status, 400, r2.text);
    });

    const bad400 = [
      ['missing name', { data: 'd', channels: ['c'] }],
      ['missing data', { name: 'e', channels: ['c'] }],
      ['missing channels', { name: 'e', data: 'd' }],
      ['empty channels', { name: 'e', data: 'd', channels: [] }],
      ['101 channels', { name: 'e', data: 'd', channels: Array.from({ length: 101 }, (_, i) => `c${i}`) }],
      ['event name of 201 characters', { name: 'n'.repeat(201), data: 'd', channels: ['c'] }],
      ['event name starting pusher:', { name: 'pusher:subscribe', data: 'd', channels: ['c'] }],
      ['event name starting pusher_internal:', { name: 'pusher_internal:member_added', data: 'd', channels: ['c'] }],
      ['invalid channel name', { name: 'e', data: 'd', channels: ['bad channel'] }],
      ['channel name of 201 characters', { name: 'e', data: 'd', channels: ['c'.repeat(201)] }],
      ['invalid socket_id', { name: 'e', data: 'd', channels: ['c'], socket_id: 'abc' }],
      ['socket_id without dot', { name: 'e', data: 'd', channels: ['c'], socket_id: '1234' }],
      ['name not a string', { name: 42, data: 'd', channels: ['c'] }],
      ['channels not an array', { name: 'e', data: 'd', channels: 'c' }],
      ['multi-channel including an encrypted channel', { name: 'e', data: '{"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","ciphertext":"6rVSuKAuBIv93dzoqJgh+AEidySHWH/MlDfFNmdv+bWcdCM="}', channels: ['plain', 'private-encrypted-x'] }],
      ['plaintext to an encrypted channel', { name: 'e', data: '{"message":"hello"}', channels: ['private-encrypted-x'] }],
      ['non-JSON data to an encrypted channel', { name: 'e', data: 'hello', channels: ['private-encrypted-x'] }],
      ['encrypted data with a short nonce', { name: 'e', data: '{"nonce":"AAECAwQF","ciphertext":"6rVSuKAuBIv93dzoqJgh+AEidySHWH/MlDfFNmdv+bWcdCM="}', channels: ['private-encrypted-x'] }],
    ];
    for (const [label, b] of bad400) {
      test(`400: ${label}`, async () => {
        const res = await signed({ method: 'POST', path: eventsPath(), body: b });
        assert.equal(res.status, 400, `${label}: ${res.status} ${res.text}`);
        assert.equal(typeof res.body.error, 'string');
      });
    }

    test('well-formed encrypted envelope to a single encrypted channel -> 200', async () => {
      const res = await signed({ method: 'POST', path: eventsPath(), body: { name: 'e', data: '{"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX","ciphertext":"6rVSuKAuBIv93dzoqJgh+AEidySHWH/MlDfFNmdv+bWcdCM="}', channels: ['private-encrypted-x'] } });
      assert.equal(res.status, 200, res.text);
    });

    test('401: bad signature', async () => {
      const res = await signed({ method: 'POST', path: eventsPath(), body: body(), signature: 'f'.repeat(64) });
      assert.equal(res.status, 401, res.text);
    });

    test('401: signed with the wrong secret (SDK)', async () => {
      const wrong = h.sdkClient(srv, { ...app, secret: 'not-the-secret' });
      const res = await h.rest.trigger(wrong, 'err-ch', 'e', 'd');
      assert.equal(res.status, 401, res.text);
      const res2 = await h.rest.get(wrong, '/channels');
      assert.equal(res2.status, 401, res2.text);
    });

    test('401: stale and future timestamps', async () => {
      const now = Math.floor(Date.now() / 1000);
      const r1 = await signed({ method: 'POST', path: eventsPath(), body: body(), timestamp: now - 700 });
      assert.equal(r1.status, 401, r1.text);
      const r2 = await signed({ method: 'POST', path: eventsPath(), body: body(), timestamp: now + 700 });
      assert.equal(r2.status, 401, r2.text);
      const r3 = await signed({ method: 'GET', path: `/apps/${app.id}/channels`, timestamp: now - 700 });
      assert.equal(r3.status, 401, r3.text);
      const r4 = await signed({ method: 'POST', path: eventsPath(), body: body(), timestamp: now - 300 });
      assert.equal(r4.status, 200, `a timestamp 300 s old is inside the window: ${r4.text}`);
    });

    test('401: body_md5 mismatch and missing body_md5', async () => {
      const r1 = await signed({ method: 'POST', path: eventsPath(), body: body(), bodyMd5: crypto.createHash('md5').update('other').digest('hex') });
      assert.equal(r1.status, 401, r1.text);
      const r2 = await signed({ method: 'POST', path: eventsPath(), body: body(), omit: ['body_md5'] });
      assert.equal(r2.status, 401, r2.text);
    });

    test('401: wrong auth_key (signature valid for the secret)', async () => {
      const res = await signed({ method: 'POST', path: eventsPath(), body: body(), key: 'some-other-key' });
      assert.equal(res.status, 401, res.text);
    });

    test('401: missing auth parameters, bad auth_version', async () => {
      for (const p of ['auth_key', 'auth_timestamp', 'auth_version', 'auth_signature']) {
        const res = await signed({ method: 'GET', path: `/apps/${app.id}/channels`, omit: [p] });
        assert.equal(res.status, 401, `without ${p}: ${res.text}`);
      }
      const res = await signed({ method: 'GET', path: `/apps/${app.id}/channels`, authVersion: '2.0' });
      assert.equal(res.status, 401, res.text);
    });

    test('401: signature over other query parameters', async () => {
      // sign with info=subscription_count, send without it: simulate by a signature for a different query
      const res = await signed({ method: 'GET', path: `/apps/${app.id}/channels`, params: { filter_by_prefix: 'a' }, signature: crypto.createHmac('sha256', app.secret).update(`GET\n/apps/${app.id}/channels\nauth_key=${app.key}`).digest('hex') });
      assert.equal(res.status, 401, res.text);
    });

    test('403: disabled app', async () => {
      const dsdk = h.sdkClient(srv, disabled);
      const r1 = await h.rest.trigger(dsdk, 'c', 'e', 'd');
      assert.equal(r1.status, 403, r1.text);
      const r2 = await h.rest.get(dsdk, '/channels');
      assert.equal(r2.status, 403, r2.text);
    });

    test('404: unknown app id', async () => {
      const other = h.sdkClient(srv, { ...app, id: '999999' });
      const r1 = await h.rest.trigger(other, 'c', 'e', 'd');
      assert.equal(r1.status, 404, r1.text);
      const r2 = await h.rest.get(other, '/channels');
      assert.equal(r2.status, 404, r2.text);
    });

    test('404: unknown routes', async () => {
      for (const p of [`/apps/${app.id}/nope`, `/apps/${app.id}/channels/x/users/extra`, '/nope', `/apps/${app.id}`, '/apps']) {
        const res = await signed({ method: 'GET', path: p });
        assert.equal(res.status, 404, `${p}: ${res.text}`);
      }
    });

    test('405: wrong method on known routes', async () => {
      const cases = [
        ['GET', eventsPath()],
        ['PUT', eventsPath()],
        ['GET', `/apps/${app.id}/batch_events`],
        ['POST', `/apps/${app.id}/channels`],
        ['DELETE', `/apps/${app.id}/channels/foo`],
        ['POST', `/apps/${app.id}/channels/presence-x/users`],
      ];
      for (const [method, p] of cases) {
        const res = await signed({ method, path: p, body: method === 'GET' || method === 'DELETE' ? undefined : body() });
        assert.equal(res.status, 405, `${method} ${p}: ${res.text}`);
        assert.equal(typeof res.body.error, 'string');
      }
    });

    test('413: data over 10 KB (raw) and body over the body limit', async () => {
      const r1 = await signed({ method: 'POST', path: eventsPath(), body: { name: 'e', data: 'x'.repeat(10 * 1024 + 1), channels: ['c'] } });
      assert.equal(r1.status, 413, r1.text);
      const huge = JSON.stringify({ name: 'e', data: 'x', channels: ['c'], pad: 'p'.repeat(2 * 1024 * 1024) });
      const r2 = await signed({ method: 'POST', path: eventsPath(), body: huge });
      assert.equal(r2.status, 413, r2.text);
    });

    test('GET / and /ready probes answer without a signature', async () => {
      for (const p of ['/', '/ready']) {
        const res = await h.signedRequest(srv, { method: 'GET', path: p, omit: ['auth_key', 'auth_timestamp', 'auth_version', 'auth_signature'] });
        assert.equal(res.status, 200, `${p}: ${res.text}`);
      }
    });

    test('the server still serves after all the errors', async () => {
      const ch = name('after-errors-');
      const r1 = await raw();
      await r1.subscribe(ch);
      await h.ok(h.rest.trigger(sdk, ch, 'alive', 'yes'));
      await r1.next('alive', 3000);
    });
  });

  describe('encrypted channels', () => {
    test('SDK with encryptionMasterKeyBase64 -> pusher-js decrypts; raw sees only ciphertext', async () => {
      const ch = name('private-encrypted-');
      const c = pjs();
      const { channel } = await h.subscribe(c, ch);
      const rec = h.recorder(channel);
      const r1 = await raw();
      await r1.subscribeSigned(ch, sdk);
      const plaintext = { message: 'top secret', n: 42 };
      const res = await h.rest.trigger(sdk, ch, 'secret', plaintext);
      assert.equal(res.status, 200, res.text);
      const got = await rec.wait('secret', 3000);
      assert.deepEqual(got.data, plaintext);
      const f = await r1.next('secret', 3000);
      assert.equal(typeof f.data, 'string');
      const env = JSON.parse(f.data);
      assert.equal(Buffer.from(env.nonce, 'base64').length, 24);
      assert.ok(env.ciphertext.length > 0);
      assert.ok(!f.data.includes('top secret'), 'server relays ciphertext only');
    });

    test('batch to an encrypted channel is decrypted by pusher-js', async () => {
      const ch = name('private-encrypted-batch-');
      const c = pjs();
      const { channel } = await h.subscribe(c, ch);
      const rec = h.recorder(channel);
      await h.ok(h.rest.triggerBatch(sdk, [{ channel: ch, name: 'bsecret', data: { k: 'v' } }]));
      assert.deepEqual((await rec.wait('bsecret', 3000)).data, { k: 'v' });
    });

    test('plaintext to an encrypted channel -> 400 and nothing delivered', async () => {
      const ch = name('private-encrypted-plain-');
      const r1 = await raw();
      await r1.subscribeSigned(ch, sdk);
      const res = await signed({ method: 'POST', path: eventsPath(), body: { name: 'leak', data: '{"message":"hello"}', channels: [ch] } });
      assert.equal(res.status, 400, res.text);
      assert.ok(await r1.none('leak', 400));
    });
  });
});
