'use strict';
// Handshake, liveness (ping/pong both ways, 4201) and handshake close codes.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');

const h = require('./helpers');

describe('handshake', () => {
  let srv;
  const disabled = h.makeApp({ enabled: false });
  before(async () => {
    const main = h.makeApp();
    srv = await h.startServer({ apps: [main, disabled], config: { activity_timeout: 7 } });
  });
  after(() => srv && srv.stop());

  test('connection_established is the first frame, data is a JSON string with socket_id and activity_timeout', async () => {
    const raw = await h.rawConnect(srv, { established: false });
    try {
      const f = await raw.next(() => true, 3000);
      assert.equal(f.event, 'pusher:connection_established');
      assert.equal(f.channel, undefined);
      assert.equal(typeof f.data, 'string', `data must be a JSON string: ${f.__text}`);
      const d = JSON.parse(f.data);
      assert.match(d.socket_id, /^\d+\.\d+$/);
      assert.equal(d.activity_timeout, 7, 'activity_timeout equals the configured value');
    } finally {
      raw.close();
    }
  });

  test('socket ids are unique', async () => {
    const clients = await Promise.all(Array.from({ length: 12 }, () => h.rawConnect(srv)));
    try {
      const ids = clients.map((c) => c.socketId);
      assert.equal(new Set(ids).size, ids.length, `duplicate socket ids: ${ids}`);
    } finally {
      clients.forEach((c) => c.close());
    }
  });

  test('pusher-js connects and reports the socket id', async () => {
    const c = h.pusherClient(srv);
    try {
      const sid = await h.connected(c);
      assert.match(sid, /^\d+\.\d+$/);
    } finally {
      c.disconnect();
    }
  });

  test('missing protocol parameter is treated as 7', async () => {
    const raw = await h.rawConnect(srv, { query: 'client=js&version=8.6.0' });
    try {
      assert.match(raw.socketId, /^\d+\.\d+$/);
      await raw.ping();
    } finally {
      raw.close();
    }
  });

  test('no query string at all works', async () => {
    const raw = await h.rawConnect(srv, { query: '' });
    try {
      assert.match(raw.socketId, /^\d+\.\d+$/);
    } finally {
      raw.close();
    }
  });

  for (const p of ['4', '5', '6', '7']) {
    test(`protocol=${p} is accepted`, async () => {
      const raw = await h.rawConnect(srv, { query: `protocol=${p}&client=js&version=8.6.0&flash=false` });
      raw.close();
    });
  }

  async function expectRefused(opts, code) {
    const raw = await h.rawConnect(srv, { ...opts, established: false });
    const first = await raw.next(() => true, 3000).catch((e) => assert.fail(`expected pusher:error ${code} before close: ${e.message}`));
    assert.equal(first.event, 'pusher:error', `first frame must be pusher:error, got ${first.__text}`);
    assert.equal(typeof first.data, 'object', 'pusher:error data is an object');
    assert.equal(first.data.code, code);
    assert.equal(typeof first.data.message, 'string');
    const c = await raw.waitClose(3000);
    assert.equal(c.code, code, `close code; got ${JSON.stringify(c)}`);
    assert.equal(raw.all((f) => f.event === 'pusher:connection_established').length, 0, 'no connection_established');
  }

  test('unknown app key -> pusher:error 4001 then close 4001', () => expectRefused({ key: 'no-such-key' }, 4001));
  test('disabled app -> pusher:error 4003 then close 4003', () => expectRefused({ key: disabled.key }, 4003));
  test('path not /app/<key> -> 4005', () => expectRefused({ path: '/foo/bar' }, 4005));
  test('path /app/ with no key -> 4005', () => expectRefused({ path: '/app/' }, 4005));
  test('path with an extra segment -> 4005', () => expectRefused({ path: `/app/${srv.app.key}/extra` }, 4005));
  test('protocol=3 -> 4007', () => expectRefused({ query: 'protocol=3&client=js&version=8.6.0&flash=false' }, 4007));
  test('protocol=8 -> 4007', () => expectRefused({ query: 'protocol=8&client=js&version=8.6.0&flash=false' }, 4007));
  test('protocol=abc -> 4007', () => expectRefused({ query: 'protocol=abc&client=js' }, 4007));
  test('protocol=7.5 -> 4007', () => expectRefused({ query: 'protocol=7.5&client=js' }, 4007));
  test('protocol= (empty) -> 4007', () => expectRefused({ query: 'protocol=&client=js' }, 4007));

  test('pusher-js with an unknown key is refused (error code 4001) and stays disconnected', async () => {
    const c = h.pusherClient(srv, { app: { ...srv.app, key: 'no-such-key' } });
    const errors = [];
    c.connection.bind('error', (e) => errors.push(e));
    try {
      await h.eventually(() => errors.some((e) => JSON.stringify(e).includes('4001')), { timeoutMs: 5000, what: 'pusher-js error 4001' });
      await h.sleep(1500);
      assert.notEqual(c.connection.state, 'connected');
    } finally {
      c.disconnect();
    }
  });
});

describe('ping / pong', () => {
  let srv;
  before(async () => {
    srv = await h.startServer({ config: { activity_timeout: 1, pong_timeout: 1 } });
  });
  after(() => srv && srv.stop());

  test('client pusher:ping (data object) -> pusher:pong with object data', async () => {
    const raw = await h.rawConnect(srv);
    try {
      raw.send({ event: 'pusher:ping', data: {} });
      const f = await raw.next('pusher:pong', 2000);
      assert.deepEqual(f.data, {});
      assert.equal(f.channel, undefined);
    } finally {
      raw.close();
    }
  });

  test('client pusher:ping with string data "{}" and with no data -> pusher:pong', async () => {
    const raw = await h.rawConnect(srv);
    try {
      raw.send({ event: 'pusher:ping', data: '{}' });
      await raw.next('pusher:pong', 2000);
      raw.send({ event: 'pusher:ping' });
      await raw.next('pusher:pong', 2000);
    } finally {
      raw.close();
    }
  });

  test('server sends pusher:ping after activity_timeout; answering keeps the connection', async () => {
    const raw = await h.rawConnect(srv);
    try {
      assert.equal(raw.established.activity_timeout, 1);
      for (let i = 0; i < 3; i++) {
        const p = await raw.next('pusher:ping', 3500);
        assert.deepEqual(p.data, {});
        raw.send({ event: 'pusher:pong', data: {} });
      }
      assert.ok(raw.isOpen, 'still open after answering pings');
      assert.equal(raw.all('pusher:error').length, 0);
    } finally {
      raw.close();
    }
  });

  test('no answer to the server ping -> pusher:error 4201 then close 4201', async () => {
    const raw = await h.rawConnect(srv);
    const t0 = Date.now();
    await raw.next('pusher:ping', 3500);
    const err = await raw.next('pusher:error', 4000);
    assert.equal(err.data.code, 4201);
    const c = await raw.waitClose(3000);
    assert.equal(c.code, 4201);
    assert.ok(Date.now() - t0 < 6000, 'closed within activity_timeout + pong_timeout (+slack)');
  });

  test('a silent raw client is not closed before it was pinged', async () => {
    const raw = await h.rawConnect(srv);
    try {
      await h.sleep(600);
      assert.ok(raw.isOpen);
      assert.equal(raw.all('pusher:error').length, 0);
    } finally {
      raw.close();
    }
  });

  test('pusher-js stays connected across several server ping cycles', async () => {
    const c = h.pusherClient(srv);
    try {
      const sid = await h.connected(c);
      const states = [];
      c.connection.bind('state_change', (s) => states.push(s.current));
      await h.sleep(4500);
      assert.equal(c.connection.state, 'connected');
      assert.equal(c.connection.socket_id, sid, `no reconnect happened (states: ${states})`);
    } finally {
      c.disconnect();
    }
  });
});
