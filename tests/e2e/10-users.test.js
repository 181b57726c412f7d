'use strict';
// Users: pusher:signin (spec 4.10), #server-to-user- delivery (sendToUser), terminate_connections
// (8.2, 9.9), presence identity from the signed-in user (4.6), watchlist events (4.11) and
// enable_user_authentication (soketi's meaning: a connection must SIGN IN within
// authorization_timeout_ms, a private subscription does not count). Sign-in itself is always
// available. workers: 2; consecutive connections land on alternate workers (least-loaded
// round robin), so "two tabs" below live on different workers.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');

const crypto = require('node:crypto');
const h = require('./helpers');

/**
 * pusher-js (faye-websocket) calls close() again on a socket the server already closed with a
 * refusing code (4009) and so leaves a 30 s close timer that keeps the test process alive. Grab
 * the raw socket while connected; call the returned function once the server has closed it.
 */
function closeTimerReleaser(client) {
  const sock = client.connection.connection && client.connection.connection.transport && client.connection.connection.transport.socket;
  return () => { if (sock && sock._closeTimer) clearTimeout(sock._closeTimer); };
}

/** A user-auth signature over any user_data string (the SDK validates user data first). */
function signUser(app, socketId, userData) {
  const sig = crypto.createHmac('sha256', app.secret).update(`${socketId}::user::${userData}`).digest('hex');
  return { auth: `${app.key}:${sig}`, user_data: userData };
}

describe('users', () => {
  let srv;
  const apps = {
    plain: h.makeApp({}), // enable_user_authentication: false (default)
    required: h.makeApp({ enable_user_authentication: true, authorization_timeout_ms: 800 }),
    watch: h.makeApp({}),
  };
  const open = [];
  let seq = 0;
  const uid = (p = 'u') => `${p}-${++seq}-${Date.now() % 100000}`;
  const raw = async (app, opts = {}) => { const c = await h.rawConnect(srv, { key: app.key, ...opts }); open.push(c); return c; };
  const pjs = (app, opts = {}) => { const c = h.pusherClient(srv, { app, ...opts }); open.push(c); return c; };
  const sdkOf = (app) => h.sdkClient(srv, app);
  const signinData = (f) => (typeof f.data === 'string' ? JSON.parse(f.data) : f.data);
  const signinFrame = (c, sdk, userData) => c.send({ event: 'pusher:signin', data: sdk.authenticateUser(c.socketId, userData) });
  async function signin(c, sdk, userData, ms = 3000) {
    signinFrame(c, sdk, userData);
    const f = await c.next((x) => x.event === 'pusher:signin_success' || x.event === 'pusher:error', ms);
    assert.equal(f.event, 'pusher:signin_success', f.__text);
    return f;
  }
  async function signedInRaw(app, userData) {
    const c = await raw(app);
    await signin(c, sdkOf(app), userData);
    return c;
  }
  async function pjsSignedIn(app, user, extra = {}) {
    const c = pjs(app, { user, ...extra });
    c.signin();
    await h.withTimeout(c.user.signinDonePromise, 5000, `pusher-js signin ${user.id}`);
    assert.ok(c.user.user_data, 'pusher-js considers the user signed in');
    assert.equal(c.user.user_data.id, user.id);
    await h.eventually(() => c.user.serverToUserChannel && c.user.serverToUserChannel.subscribed,
      { timeoutMs: 5000, what: `#server-to-user-${user.id} subscribed by pusher-js` });
    return c;
  }

  before(async () => {
    srv = await h.startServer({ apps: Object.values(apps) });
  });
  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    if (srv) await srv.stop();
  });

  describe('pusher:signin', () => {
    test('raw signin works without enable_user_authentication: signin_success carries user_data verbatim', async () => {
      const sdk = sdkOf(apps.plain);
      const a = await raw(apps.plain);
      const id = uid();
      const auth = sdk.authenticateUser(a.socketId, { id, user_info: { name: 'Ann' } });
      a.send({ event: 'pusher:signin', data: auth });
      const f = await a.next('pusher:signin_success', 3000);
      assert.equal(f.channel, undefined);
      assert.equal(signinData(f).user_data, auth.user_data, 'user_data exactly as sent');
      // the signature covers socket_id::user::user_data, so it only works for this socket
      const b = await raw(apps.plain);
      b.send({ event: 'pusher:signin', data: auth });
      assert.equal((await b.next('pusher:error', 3000)).data.code, 4009);
    });

    test('pusher-js signin() on an app without enable_user_authentication; its #server-to-user- subscribe succeeds', async () => {
      const id = uid();
      const c = await pjsSignedIn(apps.plain, { id, user_info: { n: 1 } });
      assert.equal(c.user.serverToUserChannel.name, `#server-to-user-${id}`);
      assert.equal(c.connection.state, 'connected');
    });

    test('bad signin (signature, user_data) -> pusher:error 4009, connection kept when no authorization option is on', async () => {
      const sdk = sdkOf(apps.plain);
      const a = await raw(apps.plain);
      const bad = [
        { auth: `${apps.plain.key}:${'0'.repeat(64)}`, user_data: '{"id":"mallory"}' },
        { auth: `other-key:${sdk.authenticateUser(a.socketId, { id: 'x' }).auth.split(':')[1]}`, user_data: '{"id":"x"}' },
        signUser(apps.plain, a.socketId, '{"name":"no id"}'),
        signUser(apps.plain, a.socketId, '{"id":""}'),
        signUser(apps.plain, a.socketId, '{"id":42}'),
        signUser(apps.plain, a.socketId, '"just a string"'),
        signUser(apps.plain, a.socketId, 'not json'),
        { user_data: '{"id":"no-auth"}' },
      ];
      for (const d of bad) {
        a.send({ event: 'pusher:signin', data: d });
        const e = await a.next('pusher:error', 3000);
        assert.equal(e.data.code, 4009, `${JSON.stringify(d)} -> ${e.__text}`);
      }
      await a.ping();
      assert.ok(a.isOpen, 'not closed');
      assert.equal(a.all('pusher:signin_success').length, 0);
      // still able to sign in properly afterwards
      await signin(a, sdk, { id: uid() });
    });

    test('a socket signed in as one user cannot sign in as another (4009); same user again is fine', async () => {
      const sdk = sdkOf(apps.plain);
      const id = uid();
      const a = await signedInRaw(apps.plain, { id });
      await signin(a, sdk, { id });
      signinFrame(a, sdk, { id: uid('other') });
      assert.equal((await a.next('pusher:error', 3000)).data.code, 4009);
      await a.ping();
    });

    test('#server-to-user-<other> -> subscription_error AuthError 403; own channel confirmed', async () => {
      const id = uid();
      const a = await signedInRaw(apps.plain, { id });
      const other = await a.subscribe(`#server-to-user-${uid('other')}`);
      assert.equal(other.event, 'pusher:subscription_error', other.__text);
      assert.equal(other.data.type, 'AuthError');
      assert.equal(other.data.status, 403);
      const own = await a.subscribe(`#server-to-user-${id}`);
      assert.equal(own.event, 'pusher_internal:subscription_succeeded', own.__text);
      // not signed in at all
      const b = await raw(apps.plain);
      const s = await b.subscribe(`#server-to-user-${id}`);
      assert.equal(s.event, 'pusher:subscription_error');
      assert.equal(s.data.status, 403);
      assert.ok(b.isOpen);
    });

    test('presence subscribe without channel_data by a signed-in socket uses the signed-in id and user_info', async () => {
      const sdk = sdkOf(apps.plain);
      const ch = `presence-signed-${uid()}`;
      const watcher = await raw(apps.plain);
      await watcher.subscribeSigned(ch, sdk, { user_id: 'watcher' });
      const id = uid('me');
      const a = await signedInRaw(apps.plain, { id, user_info: { name: 'Signed In', n: 3 } });
      const f = await a.subscribeSigned(ch, sdk); // auth over socket_id:channel, no channel_data
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
      const p = h.decodeData(f).presence;
      assert.equal(p.count, 2);
      assert.deepEqual(p.hash[id], { name: 'Signed In', n: 3 });
      const added = await watcher.next('pusher_internal:member_added', 3000);
      assert.deepEqual(h.decodeData(added), { user_id: id, user_info: { name: 'Signed In', n: 3 } });
      // not signed in and no channel_data -> refused
      const b = await raw(apps.plain);
      const e = await b.subscribeSigned(ch, sdk);
      assert.equal(e.event, 'pusher:subscription_error');
      assert.equal(e.data.status, 401);
    });

    test('pusher-js: presence channel with only a signed-in user (no channel_data from the authorizer)', async () => {
      const id = uid('pj');
      const c = await pjsSignedIn(apps.plain, { id, user_info: { name: 'PJ' } }, { presence: undefined });
      const ch = `presence-pj-${uid()}`;
      const { channel } = await h.subscribe(c, ch);
      assert.equal(channel.members.count, 1);
      assert.equal(channel.members.me.id, id);
      assert.deepEqual(channel.members.me.info, { name: 'PJ' });
    });
  });

  describe('server-to-user', () => {
    test('sendToUser reaches every connection of the user (two tabs, both workers) and nobody else', async () => {
      const sdk = sdkOf(apps.plain);
      const id = uid('dest');
      const tab1 = await pjsSignedIn(apps.plain, { id });
      const tab2 = await pjsSignedIn(apps.plain, { id });
      const other = await pjsSignedIn(apps.plain, { id: uid('other') });
      const rawTab = await signedInRaw(apps.plain, { id });
      const presenceOnly = await raw(apps.plain);
      await presenceOnly.subscribeSigned(`presence-${uid()}`, sdk, { user_id: id });
      const got = [[], [], []];
      [tab1, tab2, other].forEach((c, i) => c.user.bind('direct', (d) => got[i].push(d)));
      const r = await h.sdkCall('POST', () => sdk.sendToUser(id, 'direct', { hi: 1 }));
      assert.equal(r.status, 200, r.text);
      await h.eventually(() => got[0].length === 1 && got[1].length === 1, { timeoutMs: 3000, what: 'both tabs got the event' });
      assert.deepEqual(got[0][0], { hi: 1 });
      assert.deepEqual(got[1][0], { hi: 1 });
      const f = await rawTab.next('direct', 3000);
      assert.equal(f.channel, `#server-to-user-${id}`);
      assert.equal(f.data, '{"hi":1}');
      await h.sleep(300);
      assert.equal(got[2].length, 0, 'another user gets nothing');
      assert.ok(await presenceOnly.none('direct', 10), 'a presence member with that user_id (not signed in) gets nothing');
      assert.equal(got[0].length, 1, 'exactly once');
      // internal channels are not listed
      const list = await h.ok(h.rest.get(sdk, '/channels'));
      assert.ok(!Object.keys(list.channels).some((n) => n.startsWith('#')), JSON.stringify(list));
    });

    test('sendToUser for a user with no connection is accepted and delivers nothing', async () => {
      const sdk = sdkOf(apps.plain);
      const r = await h.sdkCall('POST', () => sdk.sendToUser(uid('nobody'), 'direct', { x: 1 }));
      assert.equal(r.status, 200, r.text);
    });
  });

  describe('terminate_connections', () => {
    test('closes every signed-in connection of the user (4009), on both workers; others untouched', async () => {
      const sdk = sdkOf(apps.plain);
      const id = uid('term');
      const a = await signedInRaw(apps.plain, { id });
      const b = await signedInRaw(apps.plain, { id });
      const pj = await pjsSignedIn(apps.plain, { id });
      const keep = await signedInRaw(apps.plain, { id: uid('keep') });
      const presenceOnly = await raw(apps.plain);
      await presenceOnly.subscribeSigned(`presence-${uid()}`, sdk, { user_id: id });
      const anon = await raw(apps.plain);
      const release = closeTimerReleaser(pj);
      const r = await h.rest.terminate(sdk, id);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, {});
      for (const c of [a, b]) {
        const e = await c.next('pusher:error', 3000);
        assert.equal(e.data.code, 4009, e.__text);
        assert.equal((await c.waitClose(3000)).code, 4009);
      }
      // pusher-js treats 4009 as refused: disconnected, no reconnect
      await h.eventually(() => pj.connection.state === 'disconnected', { timeoutMs: 3000, what: `pusher-js disconnected (${pj.connection.state})` });
      await h.sleep(1300);
      assert.equal(pj.connection.state, 'disconnected', 'pusher-js does not reconnect after 4009');
      release();
      assert.ok(keep.isOpen, 'another user is not affected');
      assert.ok(presenceOnly.isOpen, 'a presence member with that user_id that did not sign in is not affected');
      assert.ok(anon.isOpen);
      await keep.ping();
      await presenceOnly.ping();
      // the user may connect and sign in again
      const again = await signedInRaw(apps.plain, { id });
      await again.ping();
    });

    test('terminating a user with no connections -> 200 {}', async () => {
      const r = await h.rest.terminate(sdkOf(apps.plain), uid('ghost'));
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, {});
    });
  });

  describe('enable_user_authentication (sign in within authorization_timeout_ms)', () => {
    const expectKicked = async (c, sinceMs) => {
      const e = await c.next('pusher:error', 4000);
      assert.equal(e.data.code, 4009, e.__text);
      assert.equal(e.data.message, 'Connection not authorized within timeout.');
      assert.equal((await c.waitClose(3000)).code, 4009);
      const took = Date.now() - sinceMs;
      assert.ok(took >= 600 && took < 3000, `closed after ~800 ms (took ${took} ms)`);
    };

    test('a connection that does not sign in is closed with 4009 after the timeout', async () => {
      const t0 = Date.now();
      const a = await raw(apps.required);
      await expectKicked(a, t0);
    });

    test('a private (or presence) subscription does NOT satisfy it', async () => {
      const sdk = sdkOf(apps.required);
      const t0 = Date.now();
      const a = await raw(apps.required);
      const b = await raw(apps.required);
      assert.equal((await a.subscribeSigned('private-not-enough', sdk)).event, 'pusher_internal:subscription_succeeded');
      assert.equal((await b.subscribeSigned('presence-not-enough', sdk, { user_id: 'p' })).event, 'pusher_internal:subscription_succeeded');
      await expectKicked(a, t0);
      await expectKicked(b, t0);
    });

    test('signing in in time keeps the connection (raw and pusher-js)', async () => {
      const a = await raw(apps.required);
      await signin(a, sdkOf(apps.required), { id: uid() });
      const c = await pjsSignedIn(apps.required, { id: uid('pj') });
      await h.sleep(1500);
      assert.ok(a.isOpen, 'signed-in raw connection kept');
      await a.ping();
      assert.equal(c.connection.state, 'connected', 'signed-in pusher-js kept');
    });

    test('a failed signin closes with 4009 right away', async () => {
      const a = await raw(apps.required);
      a.send({ event: 'pusher:signin', data: { auth: `${apps.required.key}:${'0'.repeat(64)}`, user_data: '{"id":"x"}' } });
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4009);
      const t = Date.now();
      assert.equal((await a.waitClose(3000)).code, 4009);
      assert.ok(Date.now() - t < 600, 'closed on the failure, not by the timer');
    });
  });

  describe('watchlist', () => {
    const wlEvents = (c) => c.all('pusher_internal:watchlist_events').flatMap((f) => h.decodeData(f).events);
    const norm = (events) => events.map((e) => ({ name: e.name, user_ids: [...e.user_ids].sort() }));

    test('initial state right after signin_success, then online / offline as the last connection goes', async () => {
      const app = apps.watch;
      const sdk = sdkOf(app);
      const [ua, ub, uc] = [uid('wa'), uid('wb'), uid('wc')];
      const b1 = await signedInRaw(app, { id: ub });
      const a = await raw(app);
      signinFrame(a, sdk, { id: ua, watchlist: [ub, uc] });
      const okFrame = await a.next('pusher:signin_success', 3000);
      const first = await a.next('pusher_internal:watchlist_events', 3000);
      assert.ok(a.history.indexOf(okFrame) < a.history.indexOf(first), 'signin_success comes first');
      assert.equal(first.channel, undefined, 'no channel member');
      const ev = h.decodeData(first).events;
      assert.ok(Array.isArray(ev));
      assert.deepEqual(norm(ev).sort((x, y) => x.name.localeCompare(y.name)),
        [{ name: 'offline', user_ids: [uc] }, { name: 'online', user_ids: [ub] }]);

      // uc comes online with two connections (both workers): one online event
      const c1 = await signedInRaw(app, { id: uc });
      const on = await a.next('pusher_internal:watchlist_events', 3000);
      assert.deepEqual(norm(h.decodeData(on).events), [{ name: 'online', user_ids: [uc] }]);
      const c2 = await signedInRaw(app, { id: uc });
      // an unrelated user coming online is not reported
      await signedInRaw(app, { id: uid('stranger') });
      assert.ok(await a.none('pusher_internal:watchlist_events', 300), `second connection: no event: ${a.historyText()}`);
      c1.close();
      await c1.waitClose(3000);
      assert.ok(await a.none('pusher_internal:watchlist_events', 300), 'one connection of uc left: still online');
      c2.close();
      const off = await a.next('pusher_internal:watchlist_events', 3000);
      assert.deepEqual(norm(h.decodeData(off).events), [{ name: 'offline', user_ids: [uc] }]);
      b1.terminate();
      const off2 = await a.next('pusher_internal:watchlist_events', 3000);
      assert.deepEqual(norm(h.decodeData(off2).events), [{ name: 'offline', user_ids: [ub] }]);
      // terminate_connections takes a user offline too
      const b2 = await signedInRaw(app, { id: ub });
      assert.deepEqual(norm(h.decodeData(await a.next('pusher_internal:watchlist_events', 3000)).events), [{ name: 'online', user_ids: [ub] }]);
      await h.ok(h.rest.terminate(sdk, ub));
      await b2.waitClose(3000);
      assert.deepEqual(norm(h.decodeData(await a.next('pusher_internal:watchlist_events', 3000)).events), [{ name: 'offline', user_ids: [ub] }]);
      assert.equal(a.all('pusher:error').length, 0, a.historyText());
    });

    test('a connection that only joined presence with the id does not make the user online', async () => {
      const app = apps.watch;
      const sdk = sdkOf(app);
      const target = uid('pres');
      const a = await raw(app);
      await signin(a, sdk, { id: uid('watcher'), watchlist: [target] });
      const init = await a.next('pusher_internal:watchlist_events', 3000);
      assert.deepEqual(norm(h.decodeData(init).events), [{ name: 'offline', user_ids: [target] }]);
      const p = await raw(app);
      await p.subscribeSigned(`presence-${uid()}`, sdk, { user_id: target });
      assert.ok(await a.none('pusher_internal:watchlist_events', 400), a.historyText());
    });

    test('pusher-js: user.watchlist emits online / offline with {name, user_ids}', async () => {
      const app = apps.watch;
      const [me, friend, away] = [uid('pjw'), uid('friend'), uid('away')];
      const friend1 = await signedInRaw(app, { id: friend });
      const c = pjs(app, { user: { id: me, watchlist: [friend, away] } });
      const online = [];
      const offline = [];
      c.user.watchlist.bind('online', (e) => online.push(e));
      c.user.watchlist.bind('offline', (e) => offline.push(e));
      c.signin();
      await h.withTimeout(c.user.signinDonePromise, 5000, 'signin');
      await h.eventually(() => online.length === 1 && offline.length === 1, { timeoutMs: 3000, what: 'initial watchlist state' });
      assert.deepEqual(online[0], { name: 'online', user_ids: [friend] });
      assert.deepEqual(offline[0], { name: 'offline', user_ids: [away] });
      const away1 = await signedInRaw(app, { id: away });
      await h.eventually(() => online.length === 2, { timeoutMs: 3000, what: 'away comes online' });
      assert.deepEqual(online[1], { name: 'online', user_ids: [away] });
      friend1.close();
      await h.eventually(() => offline.length === 2, { timeoutMs: 3000, what: 'friend goes offline' });
      assert.deepEqual(offline[1], { name: 'offline', user_ids: [friend] });
      away1.close();
      await h.eventually(() => offline.length === 3, { timeoutMs: 3000, what: 'away goes offline' });
    });

    test('more than 100 ids: first 100 kept, signin_success still sent, then pusher:error 4302', async () => {
      const app = apps.watch;
      const sdk = sdkOf(app);
      const base = uid('many');
      const ids = Array.from({ length: 105 }, (_, i) => `${base}-${i}`);
      const a = await raw(app);
      signinFrame(a, sdk, { id: uid('big-watcher'), watchlist: ids });
      const okFrame = await a.next('pusher:signin_success', 3000);
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4302, e.__text);
      assert.ok(a.history.indexOf(okFrame) < a.history.indexOf(e), 'signin_success before the 4302 error');
      await a.next('pusher_internal:watchlist_events', 3000); // the initial state
      const st = norm(wlEvents(a));
      const reported = st.flatMap((x) => x.user_ids);
      assert.deepEqual(reported.sort(), ids.slice(0, 100).sort(), 'initial state covers exactly the first 100 ids');
      assert.ok(a.isOpen);
      // id #101 is not watched, id #50 is
      await signedInRaw(app, { id: ids[100] });
      await signedInRaw(app, { id: ids[50] });
      const on = await a.next('pusher_internal:watchlist_events', 3000);
      assert.deepEqual(norm(h.decodeData(on).events), [{ name: 'online', user_ids: [ids[50]] }]);
      await h.sleep(300);
      assert.ok(!wlEvents(a).some((x) => x.user_ids.includes(ids[100])), 'the 101st id is not watched');
      await a.ping();
    });
  });
});
