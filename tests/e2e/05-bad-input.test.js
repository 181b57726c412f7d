'use strict';
// Hostile / malformed WebSocket input. After each case a separate pusher-js client must still
// receive a REST-triggered event (the server and the other connections are unaffected).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./helpers');

describe('bad WebSocket input', () => {
  let srv;
  let sdk;
  let watchdog;
  let watchRec;
  let seq = 0;
  const open = [];

  before(async () => {
    srv = await h.startServer({ config: { max_message_size_kb: 4 } });
    sdk = h.sdkClient(srv);
    watchdog = h.pusherClient(srv, { sdk });
    const { channel } = await h.subscribe(watchdog, 'watchdog');
    watchRec = h.recorder(channel);
  });
  after(() => {
    for (const c of open) c.close();
    h.disconnectAll(watchdog);
    return srv && srv.stop();
  });

  const raw = async (opts) => { const c = await h.rawConnect(srv, opts); open.push(c); return c; };

  async function assertHealthy() {
    assert.ok(srv.alive, `server died: ${JSON.stringify(srv.exited)}\n${srv.tail()}`);
    const n = ++seq;
    const r = await h.rest.trigger(sdk, 'watchdog', 'tick', { n });
    assert.equal(r.status, 200, r.text);
    await watchRec.wait((e) => e.event === 'tick' && e.data.n === n, 3000, `watchdog tick ${n}`);
    assert.equal(watchdog.connection.state, 'connected');
  }

  async function expectNullError(r) {
    const e = await r.next('pusher:error', 3000);
    assert.equal(typeof e.data, 'object', e.__text);
    assert.equal(e.data.code, null, `code must be null: ${e.__text}`);
    assert.equal(typeof e.data.message, 'string');
    return e;
  }

  test('invalid JSON -> pusher:error code null, connection stays open', async () => {
    const r = await raw();
    for (const bad of ['{not json', '', '{"event":', 'null', '\u0000\u0001']) {
      r.send(bad);
      await expectNullError(r);
    }
    await r.ping();
    assert.ok(r.isOpen);
    await assertHealthy();
  });

  test('JSON that is not an object, or has no string event -> pusher:error code null', async () => {
    const r = await raw();
    for (const bad of ['[1,2,3]', '"just a string"', '42', '{"data":{}}', '{"event":42}', '{"event":null}']) {
      r.send(bad);
      await expectNullError(r);
    }
    await r.ping();
    await assertHealthy();
  });

  test('unknown event -> pusher:error code null, connection stays open', async () => {
    const r = await raw();
    r.send({ event: 'do-something', data: {} });
    await expectNullError(r);
    r.send({ event: 'my-event', channel: 'x', data: 'y' });
    await expectNullError(r);
    await r.ping();
    await assertHealthy();
  });

  test('unknown pusher: event is ignored or answered with code null; never closes', async () => {
    const r = await raw();
    r.send({ event: 'pusher:no_such_thing', data: {} });
    await r.ping();
    for (const e of r.all('pusher:error')) assert.equal(e.data.code, null);
    assert.ok(r.isOpen);
    await assertHealthy();
  });

  test('malformed subscribe (no channel, data not an object) does not close the connection', async () => {
    const r = await raw();
    r.send({ event: 'pusher:subscribe', data: {} });
    r.send({ event: 'pusher:subscribe', data: 17 });
    r.send({ event: 'pusher:subscribe', data: '{not json' });
    r.send({ event: 'pusher:subscribe' });
    r.send({ event: 'pusher:unsubscribe', data: [] });
    await r.ping();
    await h.sleep(200);
    assert.ok(r.isOpen);
    for (const f of r.all(() => true)) {
      assert.ok(['pusher:connection_established', 'pusher:error', 'pusher:subscription_error', 'pusher:pong'].includes(f.event), `unexpected frame ${f.__text}`);
      if (f.event === 'pusher:error') assert.notEqual(f.data.code, 4001);
    }
    const ok = await r.subscribe('after-malformed');
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded');
    await assertHealthy();
  });

  test('binary frame is ignored', async () => {
    const r = await raw();
    await r.sendRaw(Buffer.from('{"event":"pusher:ping","data":{}}'), { binary: true });
    await r.sendRaw(Buffer.from([0xff, 0x00, 0xfe, 0x01]), { binary: true });
    assert.ok(await r.none(() => true, 500), `no reply to binary frames, got ${r.historyText()}`);
    assert.ok(r.isOpen);
    await r.ping();
    await assertHealthy();
  });

  test('oversized frame -> close 1009 for that client only', async () => {
    const victim = await raw();
    const bystander = await raw();
    await bystander.subscribe('bystander');
    await victim.subscribe('bystander');
    victim.send({ event: 'client-big', channel: 'bystander', data: 'x'.repeat(5 * 1024) });
    const c = await victim.waitClose(5000);
    assert.equal(c.code, 1009, `close code ${JSON.stringify(c)}`);
    assert.ok(bystander.isOpen);
    await bystander.ping();
    await h.ok(h.rest.trigger(sdk, 'bystander', 'still-here', 'x'));
    await bystander.next('still-here', 3000);
    await assertHealthy();
    const info = await h.ok(h.rest.get(sdk, '/channels/bystander', { info: 'subscription_count' }));
    assert.equal(info.subscription_count, 1, 'the closed client left its channels');
  });

  test('oversized frame sent in fragments -> 1009', async () => {
    const victim = await raw();
    const chunk = 'y'.repeat(1500);
    const parts = [`{"event":"x","data":"${chunk}`, chunk, chunk, chunk, `${chunk}"}`];
    // One fragment at a time, stopping once the server has closed, so the close frame is not
    // lost to a TCP reset caused by our own unread upload.
    for (let i = 0; i < parts.length && victim.ws.readyState === 1; i++) {
      victim.ws.send(parts[i], { fin: i === parts.length - 1 });
      await h.sleep(100);
    }
    const c = await victim.waitClose(5000);
    assert.equal(c.code, 1009, `close code ${JSON.stringify(c)}`);
    await assertHealthy();
  });

  test('a frame just under the limit is processed', async () => {
    const r = await raw();
    const pad = 'p'.repeat(3 * 1024);
    r.send({ event: 'pusher:ping', data: { pad } });
    await r.next('pusher:pong', 3000);
    await assertHealthy();
  });

  test('deeply nested JSON -> pusher:error (code null), no crash', async () => {
    const r = await raw();
    const depth = 1800; // 3.6 KB, under the 4 KB cap
    r.send(`{"event":"deep","data":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    await expectNullError(r);
    r.send(`${'{"a":'.repeat(600)}1${'}'.repeat(600)}`);
    await expectNullError(r);
    await r.ping();
    await assertHealthy();
  });

  test('subscribe storms and garbage in one burst do not disturb others', async () => {
    const r = await raw();
    for (let i = 0; i < 200; i++) {
      if (i % 3 === 0) r.send('garbage');
      else r.send({ event: 'pusher:subscribe', data: { auth: '', channel: `storm-${i}` } });
    }
    await r.ping(5000);
    await assertHealthy();
    assert.equal(r.all('pusher_internal:subscription_succeeded').length, 133);
  });

  test('abrupt TCP resets do not disturb others', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await raw();
      await r.subscribe('reset-me');
      r.ws._socket.destroy();
    }
    await assertHealthy();
    await h.eventually(async () => {
      const info = await h.ok(h.rest.get(sdk, '/channels/reset-me'));
      return info.occupied === false;
    }, { timeoutMs: 5000, what: 'reset connections cleaned up' });
  });

  test('half-finished HTTP upgrade and plain HTTP on the WebSocket port do not disturb others', async () => {
    const net = require('node:net');
    const s = net.connect({ host: h.HOST, port: srv.port });
    await new Promise((res) => s.once('connect', res));
    s.write('GET /app/x HTTP/1.1\r\nHost: x\r\n');
    const s2 = net.connect({ host: h.HOST, port: srv.port });
    await new Promise((res) => s2.once('connect', res));
    s2.write('not http at all\r\n\r\n');
    await assertHealthy();
    s.destroy();
    s2.destroy();
    await assertHealthy();
  });
});
