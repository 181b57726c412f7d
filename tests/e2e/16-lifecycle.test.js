'use strict';
// Process lifecycle: graceful shutdown on SIGTERM / SIGINT (every client is told 4200 and the
// process exits 0 within the grace period; pusher-js reconnects by itself to a gateway restarted
// on the same ports), SIGHUP reload of the app list (kept apps keep their connections and take
// new settings, removed apps' connections get 4001, new apps work at once; a bad file or a change
// of a fixed setting is refused and nothing changes), and logging (log_format json,
// --log-level).

const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const h = require('./helpers');

/** Resolves {code, signal, ms} once srv exits; fails after timeoutMs. */
async function exitWithin(srv, timeoutMs, t0 = Date.now()) {
  const r = await h.withTimeout(srv.exitPromise, timeoutMs, `pushgate exit; stderr:\n${srv.tail()}`);
  return { ...r, ms: Date.now() - t0 };
}

/** Every Pusher error code a pusher-js client's connection reports. */
function errorCodes(client) {
  const codes = [];
  client.connection.bind('error', (e) => {
    const code = (e && e.data && e.data.code) || (e && e.error && e.error.data && e.error.data.code);
    if (code) codes.push(code);
  });
  return codes;
}

/** Counts occurrences of re in srv.stderr. */
const count = (srv, re) => (srv.stderr.match(new RegExp(re.source, 'g')) || []).length;

function frameData(f) {
  return typeof f.data === 'string' ? JSON.parse(f.data) : f.data;
}

describe('graceful shutdown', () => {
  test('SIGTERM: pusher-js and raw clients get 4200, exit 0 within 4 s; pusher-js reconnects to a gateway restarted on the same ports', async (t) => {
    const app = h.makeApp();
    const srv = await h.startServer({ apps: [app] });
    let srv2 = null;
    const clients = [];
    t.after(async () => {
      h.disconnectAll(...clients);
      if (srv.alive) await srv.stop({ check: false });
      if (srv2) await srv2.stop();
    });

    // Two pusher-js clients: the acceptor gives them to the least-loaded worker, so with 2
    // workers they land on different workers.
    const subs = [];
    for (let i = 0; i < 2; i++) {
      const c = h.pusherClient(srv, { app });
      clients.push(c);
      const codes = errorCodes(c);
      const sid = await h.connected(c);
      const { channel } = await h.subscribe(c, 'lifecycle');
      let succeeded = 0;
      channel.bind('pusher:subscription_succeeded', () => { succeeded += 1; });
      subs.push({ c, codes, sid, channel, rec: h.recorder(channel), succeeded: () => succeeded });
    }
    const raw = await h.rawConnect(srv, { key: app.key });
    assert.equal((await raw.subscribe('lifecycle')).event, 'pusher_internal:subscription_succeeded');

    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    const err = await raw.next('pusher:error', 3000);
    assert.equal(frameData(err).code, 4200, err.__text);
    assert.equal((await raw.waitClose(3000)).code, 4200);
    const ex = await exitWithin(srv, 4000, t0);
    assert.deepEqual([ex.code, ex.signal], [0, null], `exit after SIGTERM; stderr:\n${srv.tail()}`);
    assert.ok(ex.ms < 4000, `exited after ${ex.ms} ms`);
    assert.match(srv.stderr, /SIGTERM received/);
    assert.match(srv.stderr, /stopped/);
    for (const s of subs) {
      await h.eventually(() => s.codes.includes(4200), { timeoutMs: 2000, what: `pusher-js saw 4200 (saw ${JSON.stringify(s.codes)})` });
      assert.notEqual(s.c.connection.state, 'connected');
    }

    // Restart on the same ports: both pusher-js clients come back by themselves, resubscribed.
    // pusher-js retried at once on 4200 and hit the stopping gateway; its next attempt follows its
    // own 15 s connection-strategy timeout (client behaviour), hence the long wait.
    srv2 = await h.startServer({ apps: [app], config: { port: srv.port, api_port: srv.apiPort } });
    for (const s of subs) {
      await h.eventually(() => s.c.connection.state === 'connected' && s.c.connection.socket_id !== s.sid, { timeoutMs: 25000, intervalMs: 200, what: `pusher-js reconnected (state ${s.c.connection.state})` });
      await h.eventually(() => s.succeeded() >= 1, { timeoutMs: 5000, what: 'pusher-js resubscribed' });
    }
    const info = await h.ok(h.rest.get(h.sdkClient(srv2, app), '/channels/lifecycle', { info: 'subscription_count' }));
    assert.equal(info.subscription_count, 2, 'both clients subscribed on the new gateway');
    await h.ok(h.rest.trigger(h.sdkClient(srv2, app), 'lifecycle', 'after-restart', { n: 2 }));
    for (const s of subs) assert.deepEqual((await s.rec.wait('after-restart', 5000)).data, { n: 2 });
  });

  test('SIGINT behaves the same: 4200 to every client, exit 0', async (t) => {
    const app = h.makeApp();
    const srv = await h.startServer({ apps: [app] });
    const pj = h.pusherClient(srv, { app });
    t.after(async () => {
      h.disconnectAll(pj);
      if (srv.alive) await srv.stop({ check: false });
    });
    const codes = errorCodes(pj);
    // Disconnect pusher-js as soon as it is told 4200: otherwise it keeps retrying the stopped
    // gateway, and its strategy timers outlive the test.
    pj.connection.bind('error', () => { if (codes.includes(4200)) pj.disconnect(); });
    await h.connected(pj);
    const raws = [await h.rawConnect(srv, { key: app.key }), await h.rawConnect(srv, { key: app.key })];
    const t0 = Date.now();
    srv.proc.kill('SIGINT');
    for (const r of raws) {
      assert.equal(frameData(await r.next('pusher:error', 3000)).code, 4200);
      assert.equal((await r.waitClose(3000)).code, 4200);
    }
    const ex = await exitWithin(srv, 4000, t0);
    assert.deepEqual([ex.code, ex.signal], [0, null], `exit after SIGINT; stderr:\n${srv.tail()}`);
    assert.match(srv.stderr, /SIGINT received/);
    await h.eventually(() => codes.includes(4200), { timeoutMs: 2000, what: `pusher-js saw 4200 (saw ${JSON.stringify(codes)})` });
    h.disconnectAll(pj);
  });

  test('a client that never answers the close does not hold the exit beyond the grace period', async (t) => {
    const app = h.makeApp();
    const srv = await h.startServer({ apps: [app] });
    const raw = await h.rawConnect(srv, { key: app.key });
    t.after(async () => {
      raw.terminate();
      if (srv.alive) await srv.stop({ check: false });
    });
    raw.ws._socket.pause(); // reads nothing more: the server's close frame stays unanswered
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    const ex = await exitWithin(srv, 6000, t0);
    assert.deepEqual([ex.code, ex.signal], [0, null], `exit; stderr:\n${srv.tail()}`);
    assert.ok(ex.ms < 4500, `exited after ${ex.ms} ms`);
  });
});

describe('SIGHUP reload', () => {
  test('kept apps keep connections and take new settings, removed apps get 4001, disabled 4003, new apps work; bad reloads are refused', async (t) => {
    const A = h.makeApp({ enable_client_messages: false });
    const B = h.makeApp();
    const D = h.makeApp();
    const srv = await h.startServer({ apps: [A, B, D] });
    const open = [];
    t.after(async () => {
      for (const c of open) c.terminate();
      await srv.stop();
    });
    const raw = async (app, opts) => { const c = await h.rawConnect(srv, { key: app.key, ...opts }); open.push(c); return c; };
    const reloaded = async (re, before) => h.eventually(() => count(srv, re) > before, { timeoutMs: 5000, what: `log ${re} after SIGHUP; stderr:\n${srv.tail()}` });
    const hup = async (config, re) => {
      const before = count(srv, re);
      fs.writeFileSync(srv.configPath, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
      srv.proc.kill('SIGHUP');
      await reloaded(re, before);
    };

    const a1 = await raw(A);
    const a2 = await raw(A);
    for (const c of [a1, a2]) assert.equal((await c.subscribeSigned('private-room', h.sdkClient(srv, A))).event, 'pusher_internal:subscription_succeeded');
    const b1 = await raw(B);
    const d1 = await raw(D);
    // Before: A refuses client events (4301, connection stays).
    a1.send({ event: 'client-msg', channel: 'private-room', data: { n: 0 } });
    assert.equal(frameData(await a1.next('pusher:error', 3000)).code, 4301);

    const C = h.makeApp();
    const A2 = { ...A, enable_client_messages: true, max_connections: 2, max_read_requests_per_sec: 1 };
    const D2 = { ...D, enabled: false };
    const good = { ...srv.config, apps: [C, A2, D2] };
    await hup(good, /configuration reloaded/);
    assert.match(srv.stderr, /configuration reloaded: 3 apps \(2 kept, 1 new, 1 removed\)/);

    // B's connection: 4001. D's (now disabled): 4003.
    assert.equal(frameData(await b1.next('pusher:error', 3000)).code, 4001);
    assert.equal((await b1.waitClose(3000)).code, 4001);
    assert.equal(frameData(await d1.next('pusher:error', 3000)).code, 4003);
    assert.equal((await d1.waitClose(3000)).code, 4003);
    // A's connections stay, keep their subscriptions, and may now send client events.
    assert.equal((await a1.ping()).event, 'pusher:pong');
    a1.send({ event: 'client-msg', channel: 'private-room', data: { n: 1 } });
    const ce = await a2.next('client-msg', 3000);
    assert.deepEqual(frameData(ce), { n: 1 });
    assert.ok(await a1.none((f) => f.event === 'pusher:error', 300), `no error for the client event: ${a1.historyText()}`);
    // A's new limits apply: max_connections 2 counts the 2 kept connections (4004 for a third),
    // max_read_requests_per_sec 1 refuses a second query within the second (429).
    const a3 = await raw(A, { established: false });
    assert.equal(frameData(await a3.next('pusher:error', 3000)).code, 4004, a3.historyText());
    assert.equal((await a3.waitClose(3000)).code, 4004);
    const q1 = await h.rest.get(h.sdkClient(srv, A), '/channels');
    const q2 = await h.rest.get(h.sdkClient(srv, A), '/channels');
    assert.equal(q1.status, 200, q1.text);
    assert.equal(q2.status, 429, `second read within a second after max_read_requests_per_sec 1: ${q2.text}`);
    // A's REST still works and reaches the kept connections.
    await h.ok(h.rest.trigger(h.sdkClient(srv, A), 'private-room', 'still-here', 'a'));
    assert.equal((await a1.next('still-here', 3000)).data, 'a');
    // C: new connections and REST with C's secret.
    const c1 = await raw(C);
    assert.equal((await c1.subscribe('c-news')).event, 'pusher_internal:subscription_succeeded');
    await h.ok(h.rest.trigger(h.sdkClient(srv, C), 'c-news', 'hello-c', 'c'));
    assert.equal((await c1.next('hello-c', 3000)).data, 'c');
    // B: gone for new connections (4001) and REST (404); D: disabled (4003 / 403).
    const b2 = await raw(B, { established: false });
    assert.equal(frameData(await b2.next('pusher:error', 3000)).code, 4001);
    const rb = await h.rest.trigger(h.sdkClient(srv, B), 'x', 'e', 'd');
    assert.equal(rb.status, 404, rb.text);
    const rd = await h.rest.trigger(h.sdkClient(srv, D), 'x', 'e', 'd');
    assert.equal(rd.status, 403, rd.text);
    // C's secret is not A's: a request for C signed with A's secret is 401.
    const wrong = await h.rest.trigger(h.sdkClient(srv, { ...C, secret: A.secret }), 'c-news', 'e', 'd');
    assert.equal(wrong.status, 401, wrong.text);
    // /metrics follows the new app list.
    const metrics = (await h.httpGet(srv, '/metrics')).text;
    assert.match(metrics, new RegExp(`pushgate_connected\\{app_id="${C.id}"\\} 1\\n`));
    assert.match(metrics, new RegExp(`pushgate_connected\\{app_id="${A.id}"\\} 2\\n`));
    assert.ok(!metrics.includes(`app_id="${B.id}"`), 'the removed app has no series');

    // A file that is not JSON: refused, nothing changes.
    await hup('{ "apps": [ this is not json', /reload refused/);
    assert.match(srv.stderr, /reload refused[^\n]*\n?/);
    assert.ok(srv.alive);
    assert.equal((await a1.ping()).event, 'pusher:pong');
    await h.ok(h.rest.trigger(h.sdkClient(srv, C), 'c-news', 'after-bad', 'x'));
    assert.equal((await c1.next('after-bad', 3000)).data, 'x');
    assert.equal((await raw(C)).established.socket_id !== undefined, true);
    assert.equal((await h.rest.trigger(h.sdkClient(srv, B), 'x', 'e', 'd')).status, 404, 'B still removed');

    // A reload that changes port: refused, naming the setting; everything stays.
    const before = count(srv, /reload refused/);
    await hup({ ...good, port: srv.port + 1 === srv.apiPort ? srv.port + 2 : srv.port + 1 }, /reload refused/);
    assert.ok(count(srv, /reload refused/) > before);
    const lastRefusal = srv.stderr.split('\n').filter((l) => /reload refused/.test(l)).pop();
    assert.match(lastRefusal, /\bport\b/, lastRefusal);
    assert.equal((await a1.ping()).event, 'pusher:pong');
    assert.ok(await h.tcpAccepts(srv.port), 'still listening on the old port');
    await h.ok(h.rest.trigger(h.sdkClient(srv, A), 'private-room', 'after-port', 'p'));
    assert.equal((await a2.next('after-port', 3000)).data, 'p');

    // Nor may workers or tls change.
    await hup({ ...good, workers: 3 }, /reload refused/);
    assert.match(srv.stderr.split('\n').filter((l) => /reload refused/.test(l)).pop(), /\bworkers\b/);
    assert.equal((await h.httpGet(srv, '/metrics')).text.match(/pushgate_workers (\d+)/)[1], '2');

    // A reload with a config error (wrong type): refused with the key named.
    await hup({ ...good, apps: [{ ...C, max_connections: 'many' }, A2] }, /reload refused/);
    assert.match(srv.stderr.split('\n').filter((l) => /reload refused/.test(l)).pop(), /max_connections/);
    assert.equal((await h.rest.trigger(h.sdkClient(srv, C), 'c-news', 'e', 'd')).status, 200);

    // Re-adding B later works for new connections.
    await hup({ ...good, apps: [C, A2, D2, B] }, /configuration reloaded/);
    const b3 = await raw(B);
    assert.equal((await b3.subscribe('b-back')).event, 'pusher_internal:subscription_succeeded');
    await h.ok(h.rest.trigger(h.sdkClient(srv, B), 'b-back', 'welcome-back', 'b'));
    assert.equal((await b3.next('welcome-back', 3000)).data, 'b');
    assert.ok(a1.isOpen && a2.isOpen && c1.isOpen, 'A and C connections survived every reload');
    const m = (await h.httpGet(srv, '/metrics')).text;
    assert.equal(m.split('\n').filter((l) => l.startsWith(`pushgate_connected{app_id="${B.id}"}`)).length, 1, `one connected series for the re-added app:\n${m}`);
    assert.match(m, new RegExp(`pushgate_connected\\{app_id="${B.id}"\\} 1\\n`));
  });
});

describe('logging', () => {
  const LEVELS = new Set(['error', 'warn', 'info', 'debug']);

  function jsonLines(stderr) {
    const lines = stderr.split('\n').filter((l) => l.length > 0);
    return lines.map((l) => {
      let o;
      try { o = JSON.parse(l); } catch (e) { assert.fail(`stderr line is not JSON: ${JSON.stringify(l)}`); }
      assert.equal(typeof o, 'object');
      assert.ok(o && !Array.isArray(o), `line is an object: ${l}`);
      assert.match(String(o.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `ts: ${l}`);
      assert.ok(LEVELS.has(o.level), `level: ${l}`);
      assert.equal(typeof o.module, 'string', `module: ${l}`);
      assert.ok(o.module.length > 0);
      assert.equal(typeof o.msg, 'string', `msg: ${l}`);
      return o;
    });
  }

  test('log_format "json": every stderr line is a JSON object with ts, level, module, msg', async () => {
    const app = h.makeApp();
    const srv = await h.startServer({ apps: [app], config: { log_format: 'json' } });
    const c = await h.rawConnect(srv, { key: app.key });
    await c.subscribe('json-log');
    // A message with characters JSON must escape: an unknown app key with quotes and a backslash.
    const bad = await h.rawConnect(srv, { key: 'no"such\\key', established: false }).catch(() => null);
    if (bad) await bad.waitClose(3000).catch(() => {});
    // A reload refusal logs an error line with the file name in it.
    fs.writeFileSync(srv.configPath, '{"apps": "x"');
    srv.proc.kill('SIGHUP');
    await h.eventually(() => /reload refused/.test(srv.stderr), { timeoutMs: 5000, what: 'reload refused' });
    c.close();
    await srv.stop();
    const lines = jsonLines(srv.stderr);
    assert.ok(lines.some((o) => o.level === 'info' && /WebSocket listening/.test(o.msg)), 'the listening line');
    assert.ok(lines.some((o) => o.level === 'error' && /reload refused/.test(o.msg)), 'the reload refusal at level error');
    assert.ok(lines.some((o) => /stopped/.test(o.msg)), 'the stop line');
    assert.ok(!srv.stderr.includes(app.secret), 'a secret in the log');
  });

  test('PUSHGATE_LOG_FORMAT=json overrides the file', async () => {
    const srv = await h.startServer({ config: { log_format: 'text' }, env: { PUSHGATE_LOG_FORMAT: 'json' } });
    await srv.stop();
    const lines = jsonLines(srv.stderr);
    assert.ok(lines.length >= 2);
  });

  test('--log-level debug is accepted and wins over the file; debug lines appear', async () => {
    const app = h.makeApp();
    const srv = await h.startServer({ apps: [app], config: { log_level: 'error' }, args: ['--log-level', 'debug'] });
    await h.ok(h.rest.get(h.sdkClient(srv, app), '/channels'));
    await h.eventually(() => /\bdebug\b/.test(srv.stderr), { timeoutMs: 3000, what: `a debug line; stderr:\n${srv.tail()}` });
    await h.eventually(() => /WebSocket listening/.test(srv.stderr), { timeoutMs: 3000, what: 'info lines too' });
    await srv.stop();
  });

  test('log_level "warn" hides info lines', async () => {
    const srv = await h.startServer({ config: { log_level: 'warn' } });
    await srv.stop();
    assert.ok(!/\binfo\b/.test(srv.stderr), `no info line expected:\n${srv.stderr}`);
  });

  test('an ordinary start and stop (real apps, no tls) logs no warning or error', async () => {
    const srv = await h.startServer({ config: { log_format: 'json' } });
    await srv.stop();
    const noisy = jsonLines(srv.stderr).filter((o) => o.level === 'warn' || o.level === 'error');
    assert.deepEqual(noisy, [], 'warnings / errors on a clean start and stop');
  });

  test('--log-level nope exits 2 with a message', async () => {
    const r = await h.runBinary(['--log-level', 'nope']);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /log-level/);
    assert.match(r.stderr, /nope/);
    const r2 = await h.runBinary(['--config', h.writeConfig({ apps: [h.makeApp()], log_format: 'xml' })]);
    assert.equal(r2.code, 2, `log_format xml: exit code; stderr: ${r2.stderr}`);
    assert.match(r2.stderr, /log_format/);
  });
});
