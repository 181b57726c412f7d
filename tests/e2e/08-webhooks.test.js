'use strict';
// Webhooks (spec 10): every request is checked with the official `pusher` SDK's webhook helper
// (isValid: exact Content-Type, X-Pusher-Key, HMAC of the raw body; getEvents). A real node:http
// receiver per test. Covers channel_occupied / channel_vacated (debounced), member_added /
// member_removed (debounced), client_event (user_id on presence, string data), cache_miss,
// subscription_count (app flag off), quick reconnects sending nothing, batching, apps never
// mixed, custom headers, event_types filters, and at-least-once delivery in order while the
// receiver is down (connection refused) and then answering 503.

const { test } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./helpers');

/** Starts the server; stops it (while the receivers still answer) and then the receivers. */
async function setup(t, receivers, opts) {
  const srv = await h.startServer(opts);
  t.after(async () => {
    try {
      await srv.stop();
    } finally {
      for (const r of receivers) await r.close();
    }
  });
  return srv;
}

/** The SDK's own webhook check, plus the exact headers of spec 10.1. */
function verify(srv, app, q) {
  const what = `${q.path} ${q.rawBody}`;
  assert.equal(q.method, 'POST', what);
  assert.equal(q.headers['content-type'], 'application/json', what);
  assert.equal(q.headers['x-pusher-key'], app.key, what);
  assert.match(q.headers['x-pusher-signature'], /^[0-9a-f]{64}$/, what);
  const wh = h.sdkClient(srv, app).webhook({ headers: q.headers, rawBody: q.rawBody });
  assert.ok(wh.isValid(), `SDK webhook check failed: ${what}`);
  const body = JSON.parse(q.rawBody);
  assert.deepEqual(Object.keys(body), ['time_ms', 'events'], what);
  assert.deepEqual(wh.getEvents(), body.events);
  assert.ok(Number.isInteger(body.time_ms) && Math.abs(body.time_ms - q.at) < 60000, what);
  assert.equal(wh.getTime().getTime(), body.time_ms);
  assert.ok(body.events.length >= 1, what);
}

const waitEvent = (r, p, pred, what, timeoutMs = 5000) =>
  h.eventually(() => r.events(p).find(pred), { timeoutMs, intervalMs: 25, what: `${what} webhook on ${p}` });

test('occupied, member_added, client_event, cache_miss; member_removed and channel_vacated after the debounce; custom headers, event_types', async (t) => {
  const r = await h.webhookReceiver();
  const app = h.makeApp({
    webhooks: [
      { url: r.url('/all'), headers: { 'X-Custom': 'abc' } },
      { url: r.url('/members'), event_types: ['member_added', 'member_removed'] },
    ],
  });
  const srv = await setup(t, [r], { apps: [app], config: { webhook_debounce_ms: 300, webhook_batch_ms: 50 } });
  const sdk = h.sdkClient(srv, app);
  const a = await h.rawConnect(srv, { key: app.key });
  const b = await h.rawConnect(srv, { key: app.key });
  const find = (pred) => r.events('/all').find(pred);

  await a.subscribe('hooked');
  assert.deepEqual(await waitEvent(r, '/all', (e) => e.name === 'channel_occupied' && e.channel === 'hooked', 'channel_occupied'),
    { name: 'channel_occupied', channel: 'hooked' });

  await a.subscribeSigned('presence-room', sdk, { user_id: 'u1', user_info: { n: 1 } });
  await b.subscribeSigned('presence-room', sdk, { user_id: 'u2' });
  await waitEvent(r, '/all', (e) => e.name === 'member_added' && e.user_id === 'u2', 'member_added u2');
  assert.deepEqual(find((e) => e.name === 'member_added' && e.user_id === 'u1'), { name: 'member_added', channel: 'presence-room', user_id: 'u1' });
  assert.equal(r.events('/all').filter((e) => e.name === 'channel_occupied' && e.channel === 'presence-room').length, 1);

  // client_event on presence: the sender's user_id; data as a JSON string
  a.send({ event: 'client-typing', channel: 'presence-room', data: { typing: true } });
  await b.next('client-typing', 3000);
  assert.deepEqual(await waitEvent(r, '/all', (e) => e.name === 'client_event' && e.event === 'client-typing', 'client_event'), {
    name: 'client_event', channel: 'presence-room', event: 'client-typing', data: '{"typing":true}', socket_id: a.socketId, user_id: 'u1',
  });
  // on a private channel: no user_id; a string the client sent is that string
  await a.subscribeSigned('private-chat', sdk);
  await b.subscribeSigned('private-chat', sdk);
  a.send({ event: 'client-note', channel: 'private-chat', data: 'just "text"' });
  await b.next('client-note', 3000);
  assert.deepEqual(await waitEvent(r, '/all', (e) => e.name === 'client_event' && e.event === 'client-note', 'client_event (string)'), {
    name: 'client_event', channel: 'private-chat', event: 'client-note', data: 'just "text"', socket_id: a.socketId,
  });

  // cache channel without a cached event
  await a.subscribe('cache-weather');
  await a.next('pusher:cache_miss', 3000);
  assert.deepEqual(await waitEvent(r, '/all', (e) => e.name === 'cache_miss', 'cache_miss'), { name: 'cache_miss', channel: 'cache-weather' });

  // leaves: member_removed (b's last connection) and channel_vacated, both after the debounce
  const tLeave = Date.now();
  b.close();
  await b.waitClose(3000);
  a.unsubscribe('hooked');
  assert.deepEqual(await waitEvent(r, '/all', (e) => e.name === 'member_removed', 'member_removed'), { name: 'member_removed', channel: 'presence-room', user_id: 'u2' });
  assert.deepEqual(await waitEvent(r, '/all', (e) => e.name === 'channel_vacated', 'channel_vacated'), { name: 'channel_vacated', channel: 'hooked' });
  const arrival = (pred) => r.ok('/all').find((q) => JSON.parse(q.rawBody).events.some(pred)).at;
  assert.ok(arrival((e) => e.name === 'member_removed') - tLeave >= 250, 'member_removed waits webhook_debounce_ms');
  assert.ok(arrival((e) => e.name === 'channel_vacated') - tLeave >= 250, 'channel_vacated waits webhook_debounce_ms');
  await h.sleep(500);
  // presence-room and private-chat still have a: not vacated
  assert.deepEqual(r.events('/all').filter((e) => e.name === 'channel_vacated').map((e) => e.channel), ['hooked']);

  // event_types: the second endpoint gets only member events
  assert.deepEqual(r.events('/members'), [
    { name: 'member_added', channel: 'presence-room', user_id: 'u1' },
    { name: 'member_added', channel: 'presence-room', user_id: 'u2' },
    { name: 'member_removed', channel: 'presence-room', user_id: 'u2' },
  ]);
  for (const q of r.reqs) {
    verify(srv, app, q);
    assert.equal(q.status, 200);
    assert.equal(q.headers['x-custom'], q.path === '/all' ? 'abc' : undefined, `custom header on ${q.path}`);
  }
  a.terminate();
});

test('a quick unsubscribe + resubscribe or reconnect within the debounce sends nothing; a real leave does', async (t) => {
  const r = await h.webhookReceiver();
  const app = h.makeApp({ webhooks: [{ url: r.url('/h'), event_types: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }] });
  const srv = await setup(t, [r], { apps: [app], config: { webhook_debounce_ms: 300, webhook_batch_ms: 20 } });
  const sdk = h.sdkClient(srv, app);
  const a = await h.rawConnect(srv, { key: app.key });
  await a.subscribe('flap');
  await a.subscribeSigned('presence-flap', sdk, { user_id: 'x' });
  await waitEvent(r, '/h', (e) => e.name === 'member_added', 'member_added');
  await h.eventually(() => r.events('/h').length === 3, { what: 'occupied x2 + member_added' });

  a.unsubscribe('flap');
  await a.subscribe('flap');
  // reconnect: the old socket goes, a new one joins as the same user at once
  a.terminate();
  await a.waitClose(3000);
  const c = await h.rawConnect(srv, { key: app.key });
  await c.subscribe('flap');
  await c.subscribeSigned('presence-flap', sdk, { user_id: 'x' });
  await h.sleep(900);
  assert.deepEqual(r.events('/h').slice(3), [], 'nothing for a leave that was undone within the debounce');

  c.terminate();
  await h.eventually(() => r.events('/h').length === 6, { what: 'the real leave' });
  const tail = r.events('/h').slice(3);
  assert.deepEqual(tail.filter((e) => e.name === 'member_removed'), [{ name: 'member_removed', channel: 'presence-flap', user_id: 'x' }]);
  assert.deepEqual(tail.filter((e) => e.name === 'channel_vacated').map((e) => e.channel).sort(), ['flap', 'presence-flap']);
  for (const q of r.reqs) verify(srv, app, q);
});

test('batching: events of one app share a request within webhook_batch_ms; two apps are never mixed', async (t) => {
  const r = await h.webhookReceiver();
  const types = ['channel_occupied'];
  const A = h.makeApp({ webhooks: [{ url: r.url('/a'), event_types: types }] });
  const B = h.makeApp({ webhooks: [{ url: r.url('/b'), event_types: types }] });
  const srv = await setup(t, [r], { apps: [A, B], config: { webhook_batch_ms: 300 } });
  const a = await h.rawConnect(srv, { key: A.key });
  const b = await h.rawConnect(srv, { key: B.key });
  for (let i = 0; i < 5; i++) {
    a.send({ event: 'pusher:subscribe', data: { channel: `a-${i}` } });
    b.send({ event: 'pusher:subscribe', data: { channel: `b-${i}` } });
  }
  await h.eventually(() => r.events('/a').length === 5 && r.events('/b').length === 5, { what: '5 + 5 channel_occupied' });
  assert.deepEqual(r.events('/a').map((e) => e.channel).sort(), ['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);
  assert.deepEqual(r.events('/b').map((e) => e.channel).sort(), ['b-0', 'b-1', 'b-2', 'b-3', 'b-4']);
  assert.ok(r.ok('/a').some((q) => JSON.parse(q.rawBody).events.length >= 2), `batched: ${r.ok('/a').map((q) => q.rawBody).join('\n')}`);
  assert.ok(r.ok('/a').length < 5 && r.ok('/b').length < 5);
  for (const q of r.reqs) {
    const app = q.path === '/a' ? A : B;
    verify(srv, app, q);
    const prefix = q.path === '/a' ? 'a-' : 'b-';
    assert.ok(JSON.parse(q.rawBody).events.every((e) => e.channel.startsWith(prefix)), `mixed apps: ${q.rawBody}`);
  }
  a.terminate();
  b.terminate();
});

test('subscription_count webhook on count changes (not presence) even with the app flag off; no broadcast then', async (t) => {
  const r = await h.webhookReceiver();
  const app = h.makeApp({ webhooks: [{ url: r.url('/c'), event_types: ['subscription_count'] }] });
  const srv = await setup(t, [r], { apps: [app], config: { webhook_batch_ms: 20 } });
  const sdk = h.sdkClient(srv, app);
  const a = await h.rawConnect(srv, { key: app.key });
  const b = await h.rawConnect(srv, { key: app.key });
  await a.subscribe('counted');
  await b.subscribe('counted');
  await waitEvent(r, '/c', (e) => e.subscription_count === 2, 'subscription_count 2', 5000);
  b.unsubscribe('counted');
  await h.eventually(() => {
    const ev = r.events('/c');
    return ev.length && ev[ev.length - 1].subscription_count === 1;
  }, { what: 'subscription_count back to 1' });
  await a.subscribeSigned('presence-counted', sdk, { user_id: '1' });
  await b.subscribeSigned('presence-counted', sdk, { user_id: '2' });
  await h.sleep(1300); // the registry flushes counts once a second
  for (const e of r.events('/c')) assert.deepEqual(Object.keys(e), ['name', 'channel', 'subscription_count']);
  assert.ok(r.events('/c').every((e) => e.name === 'subscription_count' && e.channel === 'counted'), JSON.stringify(r.events('/c')));
  assert.equal(a.all('pusher_internal:subscription_count').length + b.all('pusher_internal:subscription_count').length, 0,
    'subscription_count is off for the app: no pusher_internal:subscription_count');
  for (const q of r.reqs) verify(srv, app, q);
  a.terminate();
  b.terminate();
});

test('at least once, in order: receiver down (refused), then 503, then 200 - every event arrives once, retries resend the same bytes', async (t) => {
  const r = await h.webhookReceiver({ listen: false });
  const app = h.makeApp({ webhooks: [{ url: r.url('/r'), event_types: ['channel_occupied'] }] });
  const srv = await setup(t, [r], {
    apps: [app],
    config: { webhook_batch_ms: 50, webhook_retry_min_ms: 200, webhook_retry_max_ms: 1000 },
  });
  const a = await h.rawConnect(srv, { key: app.key });
  const names = [];
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) { // ~1.25 s with nobody listening
    names.push(`ch-${i}`);
    await a.subscribe(`ch-${i}`);
    await h.sleep(250);
  }
  r.statusFor = () => (Date.now() - t0 < 3000 ? 503 : 200);
  await r.listen();
  for (let i = 5; i < 9; i++) { // while it answers 503
    names.push(`ch-${i}`);
    await a.subscribe(`ch-${i}`);
    await h.sleep(250);
  }
  await h.eventually(() => r.events('/r').length >= names.length, { timeoutMs: 10000, what: 'every event delivered' });
  assert.deepEqual(r.events('/r').map((e) => `${e.name}:${e.channel}`), names.map((n) => `channel_occupied:${n}`), 'each once, in order');
  const failed = r.reqs.filter((q) => q.status === 503);
  assert.ok(failed.length >= 1, 'the receiver answered 503 at least once');
  const okBodies = new Set(r.ok('/r').map((q) => q.rawBody));
  for (const q of failed) assert.ok(okBodies.has(q.rawBody), `a retried body must be resent as is: ${q.rawBody}`);
  for (const q of r.reqs) verify(srv, app, q);
  a.terminate();
});
