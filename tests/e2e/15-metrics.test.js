'use strict';
// Operations endpoints on api_port: GET /metrics (Prometheus text format 0.0.4, parsed strictly
// here), GET /health, GET /ready (200; not 200 once SIGTERM is being handled). Traffic from raw
// clients and the REST API must show up in the per-app series; limit refusals in
// limit_hits_total; metrics_prefix renames every series.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');

const h = require('./helpers');

// ------------------------------------------------------------------------------------------------
// Prometheus text format 0.0.4 parser (what a scraper accepts, strictly)

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s, where) {
  if (/^[+-]?Inf$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (s === 'NaN') return NaN;
  assert.match(s, /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, `${where}: bad sample value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Parses the label block starting after '{'; returns [labels, index after '}']. */
function parseLabels(line, i, where) {
  const labels = {};
  for (;;) {
    if (line[i] === '}') return [labels, i + 1];
    const eq = line.indexOf('=', i);
    assert.ok(eq > i, `${where}: label without '='`);
    const name = line.slice(i, eq).trim();
    assert.match(name, LABEL_RE, `${where}: bad label name ${JSON.stringify(name)}`);
    assert.ok(!(name in labels), `${where}: duplicate label ${name}`);
    i = eq + 1;
    assert.equal(line[i], '"', `${where}: label value must be quoted`);
    i += 1;
    let v = '';
    for (;;) {
      assert.ok(i < line.length, `${where}: unterminated label value`);
      const c = line[i];
      if (c === '\\') {
        const n = line[i + 1];
        assert.ok(n === '\\' || n === '"' || n === 'n', `${where}: bad escape \\${n} in a label value`);
        v += n === 'n' ? '\n' : n;
        i += 2;
      } else if (c === '"') {
        i += 1;
        break;
      } else {
        v += c;
        i += 1;
      }
    }
    labels[name] = v;
    if (line[i] === ',') i += 1;
    else assert.equal(line[i], '}', `${where}: expected ',' or '}' after a label`);
  }
}

/**
 * Returns {types: {name: type}, help: {name: text}, samples: [{name, labels, value}]}.
 * Asserts: every line is a comment, HELP, TYPE or sample; each metric has one TYPE and one HELP,
 * declared before its samples; a metric's samples are contiguous; no duplicate series; the text
 * ends with a newline.
 */
function parseProm(text) {
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline');
  const types = {};
  const help = {};
  const samples = [];
  const seen = new Set();
  const finished = new Set(); // metrics whose sample block has ended
  let current = null;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, n) => {
    const where = `/metrics line ${n + 1} ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // plain comment
      const [, kind, name, rest] = m;
      assert.match(name, NAME_RE, `${where}: bad metric name`);
      if (kind === 'TYPE') {
        assert.ok(TYPES.has(rest), `${where}: unknown type ${rest}`);
        assert.ok(!(name in types), `${where}: second TYPE for ${name}`);
        assert.ok(!samples.some((s) => s.name === name), `${where}: TYPE after samples of ${name}`);
        types[name] = rest;
      } else {
        assert.ok(!(name in help), `${where}: second HELP for ${name}`);
        assert.ok(rest.length > 0, `${where}: empty HELP`);
        help[name] = rest;
      }
      return;
    }
    const nm = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    assert.ok(nm, `${where}: not a sample line`);
    const name = nm[1];
    let i = name.length;
    let labels = {};
    if (line[i] === '{') [labels, i] = parseLabels(line, i + 1, where);
    assert.equal(line[i], ' ', `${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    assert.ok(parts.length === 1 || (parts.length === 2 && /^-?\d+$/.test(parts[1])), `${where}: expected 'value [timestamp]'`);
    const value = parseValue(parts[0], where);
    assert.ok(name in types, `${where}: sample of ${name} without a TYPE line before it`);
    if (current !== name) {
      assert.ok(!finished.has(name), `${where}: samples of ${name} are not contiguous`);
      if (current) finished.add(current);
      current = name;
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `${where}: duplicate series`);
    seen.add(key);
    if (types[name] === 'counter') assert.ok(value >= 0, `${where}: a counter is negative`);
    samples.push({ name, labels, value });
  });
  for (const name of Object.keys(types)) assert.ok(name in help, `metric ${name} has a TYPE but no HELP`);
  return { types, help, samples };
}

async function scrape(srv) {
  const r = await h.httpGet(srv, '/metrics');
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4\b/, `Content-Type ${r.headers['content-type']}`);
  const m = parseProm(r.text);
  m.text = r.text;
  /** Value of the series `name` whose labels include `labels`; undefined when absent. */
  m.get = (name, labels = {}) => {
    const s = m.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    return s && s.value;
  };
  /** Like get, but asserts the series exists. */
  m.val = (name, labels = {}) => {
    const v = m.get(name, labels);
    assert.ok(v !== undefined, `series ${name}${JSON.stringify(labels)} missing from /metrics:\n${r.text}`);
    return v;
  };
  return m;
}

const P = 'pushgate_';

describe('metrics, health and readiness', () => {
  let srv;
  const apps = {
    A: h.makeApp(),
    B: h.makeApp(),
    C: h.makeApp({ max_connections: 1 }),
    E: h.makeApp({ enabled: false }),
  };
  const open = [];
  const raw = async (app, opts = {}) => { const c = await h.rawConnect(srv, { key: app.key, ...opts }); open.push(c); return c; };

  before(async () => { srv = await h.startServer({ apps: Object.values(apps) }); });
  after(async () => {
    for (const c of open) c.terminate();
    if (srv) await srv.stop();
  });

  test('GET /metrics: unsigned, text/plain 0.0.4, every line parses, every series typed, per-app series for each app', async () => {
    const m = await scrape(srv);
    const perApp = ['connected', 'new_connections_total', 'new_disconnections_total', 'socket_received_bytes',
      'socket_transmitted_bytes', 'ws_messages_received_total', 'ws_messages_sent_total', 'http_calls_received_total',
      'http_received_bytes', 'http_transmitted_bytes', 'channels', 'subscriptions', 'presence_members'];
    for (const base of perApp) {
      const name = P + base;
      assert.ok(name in m.types, `TYPE of ${name} declared`);
      for (const app of Object.values(apps)) {
        assert.equal(m.val(name, { app_id: app.id }), 0, `${name}{app_id="${app.id}"} starts at 0`);
      }
    }
    assert.equal(m.types[`${P}connected`], 'gauge');
    assert.equal(m.types[`${P}channels`], 'gauge');
    assert.equal(m.types[`${P}subscriptions`], 'gauge');
    for (const c of ['new_connections_total', 'ws_messages_received_total', 'ws_messages_sent_total', 'http_calls_received_total', 'limit_hits_total', 'out_queue_closes_total']) {
      assert.equal(m.types[P + c], 'counter', `${P + c} is a counter`);
    }
    assert.equal(m.val(`${P}out_queue_closes_total`), 0);
    assert.equal(m.val(`${P}limit_hits_total`, { limit: 'max_connections' }), 0);
    assert.equal(m.val(`${P}workers`), 2, 'workers gauge = the configured workers');
    assert.ok(m.val(`${P}uptime_seconds`) >= 0);
    for (const s of m.samples) assert.ok(s.name.startsWith(P), `series ${s.name} has the prefix ${P}`);
    // No secret in the exposition.
    for (const app of Object.values(apps)) assert.ok(!m.text.includes(app.secret), 'an app secret leaked into /metrics');
  });

  test('connections, subscriptions, channels, messages and REST calls are counted per app', async () => {
    const before0 = await scrape(srv);
    const [a1, a2, a3] = [await raw(apps.A), await raw(apps.A), await raw(apps.A)];
    const b1 = await raw(apps.B);
    const sdkA = h.sdkClient(srv, apps.A);
    const sdkB = h.sdkClient(srv, apps.B);
    let sentBytes = 0; // bytes of WebSocket messages the clients send to app A
    const send = (c, obj) => { const t = JSON.stringify(obj); sentBytes += Buffer.byteLength(t); c.send(t); };
    const subscribeA = async (c, channel, extra = {}) => {
      send(c, { event: 'pusher:subscribe', data: { auth: '', channel, ...extra } });
      const f = await c.next((x) => x.channel === channel && /subscription_(succeeded|error)$/.test(x.event), 5000);
      assert.equal(f.event, 'pusher_internal:subscription_succeeded', f.__text);
    };
    // A: 3 on "pub-a", 2 on "private-a", 1 on "presence-a" -> 3 channels, 6 subscriptions, 1 member.
    for (const c of [a1, a2, a3]) await subscribeA(c, 'pub-a');
    for (const c of [a1, a2]) await subscribeA(c, 'private-a', { auth: sdkA.authorizeChannel(c.socketId, 'private-a').auth });
    const pres = sdkA.authorizeChannel(a3.socketId, 'presence-a', { user_id: 'u-1', user_info: { n: 1 } });
    await subscribeA(a3, 'presence-a', { auth: pres.auth, channel_data: pres.channel_data });
    // B: 1 on "pub-b".
    assert.equal((await b1.subscribe('pub-b')).event, 'pusher_internal:subscription_succeeded');

    // 3 client events a1 -> a2 on private-a.
    const N = 3;
    for (let i = 0; i < N; i++) send(a1, { event: 'client-x', channel: 'private-a', data: { i } });
    for (let i = 0; i < N; i++) await a2.next('client-x', 5000);
    // 4 REST triggers to pub-a (3 subscribers each) and one channel query.
    const K = 4;
    let restOutBytes = 0; // response body bytes of A's REST calls
    const restA = async (p) => { const r = await p; assert.equal(r.status, 200, r.text); restOutBytes += Buffer.byteLength(r.text); };
    for (let i = 0; i < K; i++) await restA(h.rest.trigger(sdkA, 'pub-a', 'rest-ev', { i }));
    for (const c of [a1, a2, a3]) for (let i = 0; i < K; i++) await c.next('rest-ev', 5000);
    await restA(h.rest.get(sdkA, '/channels'));
    await h.ok(h.rest.trigger(sdkB, 'pub-b', 'rest-ev', 'b'));
    await b1.next('rest-ev', 5000);

    const m = await scrape(srv);
    const d = (name, app) => m.val(P + name, { app_id: app.id }) - before0.val(P + name, { app_id: app.id });
    assert.equal(m.val(`${P}connected`, { app_id: apps.A.id }), 3, 'connected{A}');
    assert.equal(m.val(`${P}connected`, { app_id: apps.B.id }), 1, 'connected{B}');
    assert.equal(m.val(`${P}connected`, { app_id: apps.C.id }), 0, 'connected{C}');
    assert.equal(d('new_connections_total', apps.A), 3, 'new_connections_total{A} delta');
    assert.equal(d('new_connections_total', apps.B), 1, 'new_connections_total{B} delta');
    assert.equal(m.val(`${P}channels`, { app_id: apps.A.id }), 3, 'channels{A}');
    assert.equal(m.val(`${P}subscriptions`, { app_id: apps.A.id }), 6, 'subscriptions{A}');
    assert.equal(m.val(`${P}presence_members`, { app_id: apps.A.id }), 1, 'presence_members{A}');
    assert.equal(m.val(`${P}channels`, { app_id: apps.B.id }), 1, 'channels{B}');
    assert.equal(m.val(`${P}subscriptions`, { app_id: apps.B.id }), 1, 'subscriptions{B}');
    // Received by the server from A's clients: 6 subscribes + N client events.
    assert.ok(d('ws_messages_received_total', apps.A) >= 6 + N, `ws_messages_received_total{A} grew by ${d('ws_messages_received_total', apps.A)}, want >= ${6 + N}`);
    assert.ok(d('socket_received_bytes', apps.A) >= sentBytes, `socket_received_bytes{A} grew by ${d('socket_received_bytes', apps.A)}, want >= ${sentBytes}`);
    // Sent to A's clients: 3 connection_established + 6 subscription_succeeded + N client events + 3*K REST events.
    const wantSent = 3 + 6 + N + 3 * K;
    assert.ok(d('ws_messages_sent_total', apps.A) >= wantSent, `ws_messages_sent_total{A} grew by ${d('ws_messages_sent_total', apps.A)}, want >= ${wantSent}`);
    const recvBytesA = [a1, a2, a3].reduce((s, c) => s + c.history.reduce((t, f) => t + Buffer.byteLength(f.__text || ''), 0), 0);
    assert.ok(d('socket_transmitted_bytes', apps.A) >= recvBytesA, `socket_transmitted_bytes{A} grew by ${d('socket_transmitted_bytes', apps.A)}, want >= ${recvBytesA}`);
    assert.ok(d('ws_messages_received_total', apps.B) >= 1);
    assert.ok(d('ws_messages_sent_total', apps.B) >= 3, 'B: established + succeeded + event');
    // REST: K triggers + 1 query on A, 1 trigger on B.
    assert.equal(d('http_calls_received_total', apps.A), K + 1, 'http_calls_received_total{A} delta');
    assert.equal(d('http_calls_received_total', apps.B), 1, 'http_calls_received_total{B} delta');
    assert.ok(d('http_received_bytes', apps.A) > 0, 'http_received_bytes{A} grew');
    assert.ok(d('http_transmitted_bytes', apps.A) >= restOutBytes, `http_transmitted_bytes{A} grew by ${d('http_transmitted_bytes', apps.A)}, want >= ${restOutBytes} (the response bodies)`);
    // Nothing leaked into the app with no traffic.
    assert.equal(d('ws_messages_received_total', apps.C), 0);
    assert.equal(d('http_calls_received_total', apps.C), 0);

    // Closing: one A connection leaves -> connected 2, disconnections +1, its subscriptions gone.
    a1.close();
    await a1.waitClose(5000);
    await h.eventually(async () => (await scrape(srv)).val(`${P}connected`, { app_id: apps.A.id }) === 2, { timeoutMs: 5000, what: 'connected{A} = 2 after a close' });
    const m2 = await scrape(srv);
    assert.equal(m2.val(`${P}new_disconnections_total`, { app_id: apps.A.id }) - before0.val(`${P}new_disconnections_total`, { app_id: apps.A.id }), 1);
    assert.equal(m2.val(`${P}subscriptions`, { app_id: apps.A.id }), 4, 'subscriptions{A} after a1 (2 subscriptions) left');
    assert.equal(m2.val(`${P}channels`, { app_id: apps.A.id }), 3, 'channels{A} still 3 (a2 holds private-a)');
    a2.close();
    await a2.waitClose(5000);
    await h.eventually(async () => (await scrape(srv)).val(`${P}channels`, { app_id: apps.A.id }) === 2, { timeoutMs: 5000, what: 'channels{A} = 2 once private-a is vacated' });
    a3.close();
    b1.close();
    await Promise.all([a3.waitClose(5000), b1.waitClose(5000)]);
    await h.eventually(async () => {
      const m3 = await scrape(srv);
      return m3.val(`${P}connected`, { app_id: apps.A.id }) === 0 && m3.val(`${P}connected`, { app_id: apps.B.id }) === 0
        && m3.val(`${P}channels`, { app_id: apps.A.id }) === 0 && m3.val(`${P}subscriptions`, { app_id: apps.A.id }) === 0
        && m3.val(`${P}presence_members`, { app_id: apps.A.id }) === 0;
    }, { timeoutMs: 5000, what: 'all A/B gauges back to 0' });
  });

  test('limit_hits_total{limit="max_connections"} counts a 4004 refusal; refused connections are not "connected"', async () => {
    const m0 = await scrape(srv);
    const c1 = await raw(apps.C);
    const c2 = await raw(apps.C, { established: false });
    const err = await c2.next('pusher:error', 5000);
    assert.equal((typeof err.data === 'string' ? JSON.parse(err.data) : err.data).code, 4004, err.__text);
    assert.equal((await c2.waitClose(5000)).code, 4004);
    const m1 = await scrape(srv);
    assert.equal(m1.val(`${P}limit_hits_total`, { limit: 'max_connections' }) - m0.val(`${P}limit_hits_total`, { limit: 'max_connections' }), 1);
    assert.equal(m1.val(`${P}connected`, { app_id: apps.C.id }), 1, 'only the admitted connection is connected');
    assert.equal(m1.val(`${P}new_connections_total`, { app_id: apps.C.id }) - m0.val(`${P}new_connections_total`, { app_id: apps.C.id }), 1, 'the refused one is not a new connection');
    c1.close();
    await c1.waitClose(5000);
    await h.eventually(async () => (await scrape(srv)).val(`${P}connected`, { app_id: apps.C.id }) === 0, { timeoutMs: 5000, what: 'connected{C} = 0' });
  });

  test('limit_hits_total{limit="max_event_payload_in_kb"} counts a 413', async () => {
    const m0 = await scrape(srv);
    const r = await h.rest.trigger(h.sdkClient(srv, apps.A), 'pub-a', 'big', 'x'.repeat(11 * 1024));
    assert.equal(r.status, 413, r.text);
    const m1 = await scrape(srv);
    assert.equal(m1.val(`${P}limit_hits_total`, { limit: 'max_event_payload_in_kb' }) - m0.val(`${P}limit_hits_total`, { limit: 'max_event_payload_in_kb' }), 1);
    assert.equal(m1.val(`${P}out_queue_closes_total`), 0);
  });

  test('GET /metrics, /health and /ready are not per-app REST calls', async () => {
    const m0 = await scrape(srv);
    await h.httpGet(srv, '/health');
    await h.httpGet(srv, '/ready');
    const m1 = await scrape(srv);
    for (const app of Object.values(apps)) {
      assert.equal(m1.val(`${P}http_calls_received_total`, { app_id: app.id }), m0.val(`${P}http_calls_received_total`, { app_id: app.id }), `http_calls{${app.id}}`);
    }
  });

  test('GET /health is 200 {"ok":true} (openapi.yaml); GET /ready is 200', async () => {
    for (const p of ['/health', '/ready', '/']) {
      const r = await h.httpGet(srv, p);
      assert.equal(r.status, 200, `${p}: ${r.text}`);
      const body = h.checkResponse({ method: 'GET', url: p, status: r.status, contentType: r.headers['content-type'], bodyText: r.text });
      assert.deepEqual(body, { ok: true }, p);
    }
  });

  test('POST /metrics is 405, GET /metricsx is 404', async () => {
    const r = await new Promise((resolve, reject) => {
      const req = http.request({ host: h.HOST, port: srv.apiPort, method: 'POST', path: '/metrics', agent: false, headers: { 'content-length': '0' } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(r.status, 405, r.text);
    h.checkResponse({ method: 'POST', url: '/metrics', status: r.status, contentType: r.headers['content-type'], bodyText: r.text });
    const nf = await h.httpGet(srv, '/metricsx');
    assert.equal(nf.status, 404, nf.text);
  });
});

describe('label escaping', () => {
  // The text format escapes only \\, \" and \n in label values; anything else (a tab, UTF-8) is
  // written as is. One bad escape makes Prometheus reject the whole scrape.
  test('app ids with a quote, a backslash, UTF-8 and a newline are escaped per the text format', async (t) => {
    const ids = ['q"uo\\te', 'ünïcødé', 'new\nline'];
    const apps = ids.map((id) => h.makeApp({ id }));
    const srv = await h.useServer(t, { apps });
    const m = await scrape(srv);
    for (const id of ids) assert.equal(m.val(`${P}connected`, { app_id: id }), 0, `series for id ${JSON.stringify(id)}`);
  });

  test('an app id with a tab is written with a raw tab (\\t is not a valid escape)', async (t) => {
    const id = 'tab\there';
    const srv = await h.useServer(t, { apps: [h.makeApp({ id })] });
    const m = await scrape(srv);
    assert.equal(m.val(`${P}connected`, { app_id: id }), 0);
  });
});

describe('metrics_prefix', () => {
  test('"soketi_" renames every series (soketi_connected ...)', async (t) => {
    const app = h.makeApp();
    const srv = await h.useServer(t, { apps: [app], config: { metrics_prefix: 'soketi_' } });
    const c = await h.rawConnect(srv, { key: app.key });
    t.after(() => c.terminate());
    await h.eventually(async () => (await scrape(srv)).get('soketi_connected', { app_id: app.id }) === 1, { timeoutMs: 3000, what: 'soketi_connected = 1' });
    const m = await scrape(srv);
    assert.ok(m.samples.length > 10);
    for (const s of m.samples) assert.ok(s.name.startsWith('soketi_'), `series ${s.name} renamed`);
    assert.ok(!m.text.includes('pushgate_'), 'no pushgate_ name left (HELP/TYPE included)');
    for (const name of ['soketi_new_connections_total', 'soketi_socket_received_bytes', 'soketi_socket_transmitted_bytes',
      'soketi_ws_messages_received_total', 'soketi_ws_messages_sent_total', 'soketi_http_calls_received_total']) {
      assert.ok(name in m.types, `${name} declared`);
    }
    assert.equal(m.val('soketi_new_connections_total', { app_id: app.id }), 1);
  });
});

describe('/ready during shutdown', () => {
  test('after SIGTERM with a client connected, /ready stops answering 200 (503 or refused), then exit 0', async (t) => {
    const app = h.makeApp();
    const srv = await h.startServer({ apps: [app] });
    try {
      // A connected client: the workers have a close handshake to do. (A raw client: pusher-js
      // would keep reconnecting to the stopped gateway after the test.)
      const client = await h.rawConnect(srv, { key: app.key });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const first = await h.httpGet(srv, '/ready', { agent });
      assert.equal(first.status, 200);
      const statuses = [];
      srv.proc.kill('SIGTERM');
      const t0 = Date.now();
      while (Date.now() - t0 < 4000 && srv.alive) {
        try {
          const r = await h.httpGet(srv, '/ready', { agent, timeoutMs: 1000 });
          statuses.push(r.status);
          if (r.status === 503) {
            const body = h.checkResponse({ method: 'GET', url: '/ready', status: 503, contentType: r.headers['content-type'], bodyText: r.text });
            assert.match(body.error, /stop|shut/i);
            break;
          }
        } catch (e) {
          statuses.push(e.code || 'error');
          break;
        }
      }
      t.diagnostic(`/ready after SIGTERM: ${JSON.stringify(statuses)}`);
      client.terminate();
      agent.destroy();
      assert.ok(statuses.length > 0 && statuses[statuses.length - 1] !== 200, `/ready answers after SIGTERM: ${JSON.stringify(statuses)}`);
      // Any 200 after SIGTERM can only be a request the server handled before taking the signal;
      // once it said not-200 it never says 200 again (we stop at the first).
    } finally {
      await srv.stop();
    }
  });
});
