'use strict';
// Channel subscriptions: public, private, presence, encrypted; auth failures; names; presence
// membership; unsubscribe; idempotent resubscribe; client events.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const h = require('./helpers');

const MASTER_KEY = crypto.randomBytes(32).toString('base64');
let uniq = 0;
const name = (prefix) => `${prefix}${Date.now().toString(36)}-${++uniq}`;

describe('channels', () => {
  let srv;
  let sdk; // SDK with the master key, used for signing
  const noClientEvents = h.makeApp({ enable_client_messages: false });
  before(async () => {
    const app = h.makeApp({
      enable_client_messages: true,
      max_presence_members_per_channel: 3,
      max_presence_member_size_in_kb: 1,
    });
    srv = await h.startServer({ apps: [app, noClientEvents] });
    sdk = h.sdkClient(srv, app, { encryptionMasterKeyBase64: MASTER_KEY });
  });
  after(() => srv && srv.stop());

  const open = [];
  after(() => {
    for (const c of open) {
      if (c.ws) c.close(); else h.disconnectAll(c);
    }
  });
  const pjs = (opts = {}) => { const c = h.pusherClient(srv, { sdk, ...opts }); open.push(c); return c; };
  const raw = async (opts) => { const c = await h.rawConnect(srv, opts); open.push(c); return c; };

  describe('successful subscriptions with pusher-js', () => {
    test('public channel: subscribe, receive a REST event', async () => {
      const c = pjs();
      const ch = name('pub-');
      const { channel } = await h.subscribe(c, ch);
      const rec = h.recorder(channel);
      const r = await h.rest.trigger(sdk, ch, 'greet', { hello: 'world' });
      assert.equal(r.status, 200, r.text);
      const ev = await rec.wait('greet', 3000);
      assert.deepEqual(ev.data, { hello: 'world' });
    });

    test('private channel: subscribe with a signed auth, receive a REST event', async () => {
      const c = pjs();
      const ch = name('private-');
      const { channel } = await h.subscribe(c, ch);
      const rec = h.recorder(channel);
      await h.ok(h.rest.trigger(sdk, ch, 'secret-ev', { n: 1 }));
      assert.deepEqual((await rec.wait('secret-ev', 3000)).data, { n: 1 });
    });

    test('presence channel: subscribe, members include me', async () => {
      const c = pjs({ presence: { user_id: 'alice', user_info: { name: 'Alice' } } });
      const ch = name('presence-');
      const { channel, data } = await h.subscribe(c, ch);
      assert.equal(channel.members.count, 1);
      assert.equal(channel.members.me.id, 'alice');
      assert.deepEqual(channel.members.me.info, { name: 'Alice' });
      assert.equal(data.count, 1);
    });

    test('private-encrypted channel: subscribe with shared_secret', async () => {
      const c = pjs();
      const ch = name('private-encrypted-');
      const { channel } = await h.subscribe(c, ch);
      assert.equal(channel.subscribed, true);
    });

    test('subscription_succeeded data is the JSON string "{}" for non-presence channels', async () => {
      const r = await raw();
      for (const ch of [name('pub-'), name('private-'), name('private-encrypted-')]) {
        const f = ch.startsWith('private-') ? await r.subscribeSigned(ch, sdk) : await r.subscribe(ch);
        assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
        assert.equal(f.channel, ch);
        assert.equal(typeof f.data, 'string', `data is a string: ${f.__text}`);
        assert.deepEqual(JSON.parse(f.data), {});
      }
    });

    test('subscribe with data sent as a JSON string is accepted', async () => {
      const r = await raw();
      const ch = name('private-');
      const auth = sdk.authorizeChannel(r.socketId, ch);
      r.send({ event: 'pusher:subscribe', data: JSON.stringify({ auth: auth.auth, channel: ch }) });
      const f = await r.next((x) => x.channel === ch, 3000);
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
    });

    test('a 200-character name is accepted', async () => {
      const r = await raw();
      const ch = `long-${'x'.repeat(195)}`;
      assert.equal(ch.length, 200);
      const f = await r.subscribe(ch);
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
    });

    test('all allowed name characters are accepted', async () => {
      const r = await raw();
      const ch = `ok_-=@,.;${name('A9z')}`;
      const f = await r.subscribe(ch);
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
    });
  });

  describe('refused subscriptions', () => {
    function assertSubError(f, ch, type, status) {
      assert.equal(f.event, 'pusher:subscription_error', `expected subscription_error, got ${f.__text}`);
      assert.equal(f.channel, ch, 'subscription_error is scoped to the channel');
      assert.equal(typeof f.data, 'object', `data is an object: ${f.__text}`);
      assert.equal(f.data.type, type, f.__text);
      assert.equal(f.data.status, status, f.__text);
      assert.equal(typeof f.data.error, 'string');
      assert.ok(f.data.error.length > 0);
    }

    test('pusher-js: bad private signature -> subscription_error AuthError 401', async () => {
      const c = pjs({ authorize: () => ({ auth: `${srv.app.key}:${'0'.repeat(64)}` }) });
      const err = await h.subscribeError(c, name('private-'));
      assert.equal(err.type, 'AuthError');
      assert.equal(err.status, 401);
      assert.equal(typeof err.error, 'string');
      assert.equal(c.connection.state, 'connected', 'connection stays open');
    });

    test('raw: bad signature -> subscription_error on the channel; connection stays open', async () => {
      const r = await raw();
      const ch = name('private-');
      const f = await r.subscribe(ch, { auth: `${srv.app.key}:${'ab'.repeat(32)}` });
      assertSubError(f, ch, 'AuthError', 401);
      await r.ping();
      // a correct subscribe afterwards works
      const ok = await r.subscribeSigned(ch, sdk);
      assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
    });

    test('wrong key part in auth (valid signature) -> 401', async () => {
      const r = await raw();
      const ch = name('private-');
      const sig = sdk.authorizeChannel(r.socketId, ch).auth.split(':')[1];
      assertSubError(await r.subscribe(ch, { auth: `wrong-key:${sig}` }), ch, 'AuthError', 401);
    });

    test('missing auth on a private channel -> 401', async () => {
      const r = await raw();
      const ch = name('private-');
      assertSubError(await r.subscribe(ch, { auth: '' }), ch, 'AuthError', 401);
      r.send({ event: 'pusher:subscribe', data: { channel: `${ch}x` } });
      assertSubError(await r.next((f) => f.channel === `${ch}x`, 3000), `${ch}x`, 'AuthError', 401);
    });

    test('signature made for another socket id -> 401', async () => {
      const r = await raw();
      const ch = name('private-');
      const auth = sdk.authorizeChannel('1.1', ch);
      assertSubError(await r.subscribe(ch, { auth: auth.auth }), ch, 'AuthError', 401);
    });

    test('signature made for another channel -> 401', async () => {
      const r = await raw();
      const ch = name('private-');
      const auth = sdk.authorizeChannel(r.socketId, `${ch}-other`);
      assertSubError(await r.subscribe(ch, { auth: auth.auth }), ch, 'AuthError', 401);
    });

    test('encrypted channel with a bad signature -> 401', async () => {
      const r = await raw();
      const ch = name('private-encrypted-');
      assertSubError(await r.subscribe(ch, { auth: `${srv.app.key}:${'1'.repeat(64)}` }), ch, 'AuthError', 401);
    });

    test('presence: bad signature, missing channel_data, tampered channel_data -> 401', async () => {
      const r = await raw();
      const ch1 = name('presence-');
      const good = sdk.authorizeChannel(r.socketId, ch1, { user_id: 'u1' });
      assertSubError(await r.subscribe(ch1, { auth: `${srv.app.key}:${'2'.repeat(64)}`, channel_data: good.channel_data }), ch1, 'AuthError', 401);
      const ch2 = name('presence-');
      const noData = sdk.authorizeChannel(r.socketId, ch2);
      assertSubError(await r.subscribe(ch2, { auth: noData.auth }), ch2, 'AuthError', 401);
      const ch3 = name('presence-');
      const signed = sdk.authorizeChannel(r.socketId, ch3, { user_id: 'u1' });
      assertSubError(await r.subscribe(ch3, { auth: signed.auth, channel_data: JSON.stringify({ user_id: 'admin' }) }), ch3, 'AuthError', 401);
      await r.ping();
    });

    const invalidNames = [
      ['a space', 'has space'],
      ['a pipe', 'bad|name'],
      ['non-ASCII', 'caf\u00e9'],
      ['a slash', 'a/b'],
      ['a colon', 'a:b'],
      ['201 characters', `p${'y'.repeat(200)}`],
      ['201-character private', `private-${'z'.repeat(193)}`],
    ];
    for (const [label, ch] of invalidNames) {
      test(`invalid channel name (${label}) -> InvalidChannel 400`, async () => {
        const r = await raw();
        assertSubError(await r.subscribe(ch), ch, 'InvalidChannel', 400);
        await r.ping();
      });
    }

    test('empty channel name -> InvalidChannel 400', async () => {
      const r = await raw();
      r.send({ event: 'pusher:subscribe', data: { auth: '', channel: '' } });
      const f = await r.next((x) => x.event === 'pusher:subscription_error' || x.event === 'pusher:error', 3000);
      assert.equal(f.event, 'pusher:subscription_error', f.__text);
      assert.equal(f.data.type, 'InvalidChannel');
      assert.equal(f.data.status, 400);
    });

    test('channel starting with # -> AuthError 403', async () => {
      const r = await raw();
      const ch = '#internal-thing';
      assertSubError(await r.subscribe(ch), ch, 'AuthError', 403);
    });

    test('presence member limit -> LimitReached 4100 (second tab of a member still allowed)', async () => {
      const ch = name('presence-');
      const members = [];
      for (const u of ['m1', 'm2', 'm3']) {
        const r = await raw();
        const f = await r.subscribeSigned(ch, sdk, { user_id: u });
        assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
        members.push(r);
      }
      const fourth = await raw();
      assertSubError(await fourth.subscribeSigned(ch, sdk, { user_id: 'm4' }), ch, 'LimitReached', 4100);
      const secondTab = await raw();
      const f = await secondTab.subscribeSigned(ch, sdk, { user_id: 'm2' });
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', `second tab of an existing member: ${f.__text}`);
      assert.equal(h.decodeData(f).presence.count, 3);
    });

    test('presence user_info over max_presence_member_size_in_kb -> LimitReached 4301', async () => {
      const r = await raw();
      const ch = name('presence-');
      const f = await r.subscribeSigned(ch, sdk, { user_id: 'big', user_info: { blob: 'x'.repeat(1100) } });
      assertSubError(f, ch, 'LimitReached', 4301);
      const ok = await r.subscribeSigned(ch, sdk, { user_id: 'small', user_info: { blob: 'x'.repeat(900) } });
      assert.equal(ok.event, 'pusher_internal:subscription_succeeded', ok.__text);
    });

    test('presence user_id longer than 128 characters -> LimitReached 4301', async () => {
      const r = await raw();
      const ch = name('presence-');
      assertSubError(await r.subscribeSigned(ch, sdk, { user_id: 'u'.repeat(129) }), ch, 'LimitReached', 4301);
    });
  });

  describe('presence membership', () => {
    test('roster lists every distinct user including the joiner; ids are strings; hash has null for no user_info', async () => {
      const ch = name('presence-');
      const a = await raw();
      await a.subscribeSigned(ch, sdk, { user_id: 'ann', user_info: { name: 'Ann' } });
      const b = await raw();
      await b.subscribeSigned(ch, sdk, { user_id: 22, user_info: { name: 'Bob' } });
      const c = await raw();
      const f = await c.subscribeSigned(ch, sdk, { user_id: 'cy' });
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
      const { presence } = h.decodeData(f);
      assert.deepEqual([...presence.ids].sort(), ['22', 'ann', 'cy']);
      for (const id of presence.ids) assert.equal(typeof id, 'string');
      assert.equal(presence.count, 3);
      assert.deepEqual(presence.hash.ann, { name: 'Ann' });
      assert.deepEqual(presence.hash['22'], { name: 'Bob' });
      assert.ok('cy' in presence.hash, 'hash has a key for every id');
      assert.equal(presence.hash.cy, null);
    });

    test('member_added / member_removed go to the other members only', async () => {
      const ch = name('presence-');
      const a = await raw();
      await a.subscribeSigned(ch, sdk, { user_id: 'a', user_info: { n: 1 } });
      const b = await raw();
      await b.subscribeSigned(ch, sdk, { user_id: 'b', user_info: { n: 2 } });
      const added = await a.next((f) => f.event === 'pusher_internal:member_added' && f.channel === ch, 3000);
      assert.deepEqual(h.decodeData(added), { user_id: 'b', user_info: { n: 2 } });
      assert.ok(await b.none('pusher_internal:member_added', 300), 'joiner gets no member_added');
      assert.equal(a.all('pusher_internal:member_added').length, 1);

      b.unsubscribe(ch);
      const removed = await a.next((f) => f.event === 'pusher_internal:member_removed' && f.channel === ch, 3000);
      assert.deepEqual(h.decodeData(removed), { user_id: 'b' });
      assert.ok(await b.none('pusher_internal:member_removed', 300), 'leaver gets no member_removed');
    });

    test('closing the connection removes the member', async () => {
      const ch = name('presence-');
      const a = await raw();
      await a.subscribeSigned(ch, sdk, { user_id: 'stay' });
      const b = await raw();
      await b.subscribeSigned(ch, sdk, { user_id: 'go' });
      await a.next('pusher_internal:member_added', 3000);
      b.terminate();
      const removed = await a.next('pusher_internal:member_removed', 3000);
      assert.deepEqual(h.decodeData(removed), { user_id: 'go' });
    });

    test('two connections of one user are one member', async () => {
      const ch = name('presence-');
      const obs = await raw();
      await obs.subscribeSigned(ch, sdk, { user_id: 'observer' });
      const tab1 = await raw();
      await tab1.subscribeSigned(ch, sdk, { user_id: 'x', user_info: { tab: 1 } });
      const tab2 = await raw();
      const f = await tab2.subscribeSigned(ch, sdk, { user_id: 'x', user_info: { tab: 1 } });
      const { presence } = h.decodeData(f);
      assert.equal(presence.count, 2);
      assert.deepEqual([...presence.ids].sort(), ['observer', 'x']);
      await obs.next('pusher_internal:member_added', 3000);
      assert.ok(await obs.none('pusher_internal:member_added', 400), 'second tab produces no member_added');
      assert.equal(obs.all('pusher_internal:member_added').length, 1);
      assert.equal(tab1.all('pusher_internal:member_added').length, 0, 'the first tab is not told about its own user');

      const users = await h.ok(h.rest.get(sdk, `/channels/${ch}/users`));
      assert.deepEqual(users.users.map((u) => u.id).sort(), ['observer', 'x']);
      const info = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'user_count,subscription_count' }));
      assert.equal(info.user_count, 2);
      assert.equal(info.subscription_count, 3);

      tab1.unsubscribe(ch);
      assert.ok(await obs.none('pusher_internal:member_removed', 500), 'no member_removed while a tab remains');
      tab2.close();
      const removed = await obs.next('pusher_internal:member_removed', 3000);
      assert.deepEqual(h.decodeData(removed), { user_id: 'x' });
    });

    test('pusher-js sees member_added and member_removed with id and info', async () => {
      const ch = name('presence-');
      const c1 = pjs({ presence: { user_id: 'p1', user_info: { name: 'One' } } });
      const { channel } = await h.subscribe(c1, ch);
      const added = new Promise((resolve) => channel.bind('pusher:member_added', resolve));
      const removed = new Promise((resolve) => channel.bind('pusher:member_removed', resolve));
      const c2 = pjs({ presence: { user_id: 'p2', user_info: { name: 'Two' } } });
      const sub2 = await h.subscribe(c2, ch);
      assert.equal(sub2.channel.members.count, 2);
      const m = await h.withTimeout(added, 3000, 'pusher:member_added');
      assert.equal(m.id, 'p2');
      assert.deepEqual(m.info, { name: 'Two' });
      assert.equal(channel.members.count, 2);
      c2.disconnect();
      const r = await h.withTimeout(removed, 3000, 'pusher:member_removed');
      assert.equal(r.id, 'p2');
      assert.equal(channel.members.count, 1);
    });
  });

  describe('unsubscribe and resubscribe', () => {
    test('unsubscribe stops delivery', async () => {
      const ch = name('unsub-');
      const a = await raw();
      const b = await raw();
      await a.subscribe(ch);
      await b.subscribe(ch);
      await h.ok(h.rest.trigger(sdk, ch, 'one', '1'));
      await a.next('one', 3000);
      await b.next('one', 3000);
      a.unsubscribe(ch);
      await a.ping(); // the unsubscribe has been processed
      await h.ok(h.rest.trigger(sdk, ch, 'two', '2'));
      await b.next('two', 3000);
      assert.ok(await a.none('two', 500), 'unsubscribed socket receives nothing');
      const info = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'subscription_count' }));
      assert.equal(info.subscription_count, 1);
    });

    test('pusher-js unsubscribe stops delivery', async () => {
      const ch = name('unsub-pjs-');
      const c = pjs();
      const { channel } = await h.subscribe(c, ch);
      const rec = h.recorder(channel);
      const control = await raw();
      await control.subscribe(ch);
      c.unsubscribe(ch);
      await h.eventually(async () => (await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'subscription_count' }))).subscription_count === 1,
        { timeoutMs: 3000, what: 'subscription_count 1 after unsubscribe' });
      await h.ok(h.rest.trigger(sdk, ch, 'after', 'x'));
      await control.next('after', 3000);
      await h.sleep(300);
      assert.equal(rec.named('after').length, 0);
    });

    test('unsubscribing from a channel the socket is not in is a no-op', async () => {
      const r = await raw();
      r.unsubscribe(name('never-'));
      await r.ping();
      assert.equal(r.all('pusher:error').length, 0);
    });

    test('resubscribe is idempotent: subscription_succeeded again, one delivery, one subscription', async () => {
      const ch = name('resub-');
      const r = await raw();
      const f1 = await r.subscribe(ch);
      const f2 = await r.subscribe(ch);
      assert.equal(f1.event, 'pusher_internal:subscription_succeeded');
      assert.equal(f2.event, 'pusher_internal:subscription_succeeded');
      const info = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'subscription_count' }));
      assert.equal(info.subscription_count, 1);
      await h.ok(h.rest.trigger(sdk, ch, 'once', 'x'));
      await r.next('once', 3000);
      assert.ok(await r.none('once', 400), 'delivered exactly once');
      r.unsubscribe(ch);
      await r.ping();
      const after1 = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'subscription_count' }));
      assert.equal(after1.occupied, false, 'one unsubscribe empties the channel');
    });

    test('presence resubscribe: no duplicate member_added, count unchanged', async () => {
      const ch = name('presence-');
      const obs = await raw();
      await obs.subscribeSigned(ch, sdk, { user_id: 'o' });
      const r = await raw();
      await r.subscribeSigned(ch, sdk, { user_id: 'dup' });
      const f = await r.subscribeSigned(ch, sdk, { user_id: 'dup' });
      assert.equal(f.event, 'pusher_internal:subscription_succeeded');
      assert.equal(h.decodeData(f).presence.count, 2);
      await obs.next('pusher_internal:member_added', 3000);
      assert.ok(await obs.none('pusher_internal:member_added', 400));
      const info = await h.ok(h.rest.get(sdk, `/channels/${ch}`, { info: 'user_count,subscription_count' }));
      assert.equal(info.user_count, 2);
      assert.equal(info.subscription_count, 2);
    });
  });

  describe('client events', () => {
    test('private channel: relayed to the others, never echoed, data verbatim', async () => {
      const ch = name('private-');
      const a = await raw();
      const b = await raw();
      await a.subscribeSigned(ch, sdk);
      await b.subscribeSigned(ch, sdk);
      a.send({ event: 'client-typing', channel: ch, data: { typing: true } });
      const f = await b.next('client-typing', 3000);
      assert.deepEqual(f.data, { typing: true });
      assert.equal(f.channel, ch);
      a.send({ event: 'client-str', channel: ch, data: 'plain string' });
      assert.equal((await b.next('client-str', 3000)).data, 'plain string');
      assert.ok(await a.none((x) => x.event && x.event.startsWith('client-'), 300), 'no echo to the sender');
    });

    test('presence channel: relayed with the sender user_id; pusher-js exposes metadata.user_id', async () => {
      const ch = name('presence-');
      const c = pjs({ presence: { user_id: 'listener' } });
      const { channel } = await h.subscribe(c, ch);
      const got = new Promise((resolve) => channel.bind('client-hi', (data, meta) => resolve({ data, meta })));
      const sender = await raw();
      await sender.subscribeSigned(ch, sdk, { user_id: 'talker' });
      sender.send({ event: 'client-hi', channel: ch, data: { x: 1 } });
      const { data, meta } = await h.withTimeout(got, 3000, 'client-hi');
      assert.deepEqual(data, { x: 1 });
      assert.equal(meta.user_id, 'talker');
    });

    test('client event on a public channel is rejected with pusher:error 4301 and not relayed', async () => {
      const ch = name('pub-');
      const a = await raw();
      const b = await raw();
      await a.subscribe(ch);
      await b.subscribe(ch);
      a.send({ event: 'client-nope', channel: ch, data: {} });
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4301);
      assert.ok(await b.none('client-nope', 300));
      assert.ok(a.isOpen);
    });

    test('client event on an encrypted channel is rejected and not relayed', async () => {
      const ch = name('private-encrypted-');
      const a = await raw();
      const b = await raw();
      await a.subscribeSigned(ch, sdk);
      await b.subscribeSigned(ch, sdk);
      a.send({ event: 'client-plain', channel: ch, data: { leak: true } });
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4301);
      assert.ok(await b.none('client-plain', 300));
    });

    test('client events disabled for the app -> pusher:error 4301', async () => {
      const other = h.sdkClient(srv, noClientEvents);
      const a = await raw({ key: noClientEvents.key });
      const b = await raw({ key: noClientEvents.key });
      const ch = name('private-');
      await a.subscribeSigned(ch, other);
      await b.subscribeSigned(ch, other);
      a.send({ event: 'client-x', channel: ch, data: {} });
      const e = await a.next('pusher:error', 3000);
      assert.equal(e.data.code, 4301);
      assert.ok(await b.none('client-x', 300));
      assert.ok(a.isOpen);
    });

    test('client event on a channel the sender is not subscribed to is not relayed', async () => {
      const ch = name('private-');
      const a = await raw();
      const b = await raw();
      await b.subscribeSigned(ch, sdk);
      a.send({ event: 'client-sneak', channel: ch, data: {} });
      assert.ok(await b.none('client-sneak', 500));
      await a.ping();
    });
  });
});
