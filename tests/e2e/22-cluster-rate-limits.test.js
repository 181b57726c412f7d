'use strict';
// Cluster mode: max_backend_events_per_sec and max_read_requests_per_sec count for the cluster
// (one token bucket per app and limit in Redis, srv_cstate_limit.c), not per node; while Redis
// cannot answer each node falls back to its own bucket. Two pushgate nodes and a real
// redis-server.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');

const h = require('./helpers');

const { REDIS_BIN, haveRedis, RedisServer } = require('./redis-server');

const RATE = 5;

/** Sends one command to Redis (then QUIT) and resolves with the raw RESP reply text. */
function redisCmd(port, ...args) {
  const enc = (a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: h.HOST });
    let text = '';
    s.setTimeout(3000, () => s.destroy(new Error(`redis ${args[0]}: timeout`)));
    s.on('data', (d) => { text += d.toString('utf8'); });
    s.on('error', reject);
    s.on('close', () => resolve(text));
    s.write(`*${args.length}\r\n${args.map(enc).join('')}*1\r\n${enc('QUIT')}`);
  });
}

describe('cluster-wide REST rate limits', { skip: haveRedis ? false : `${REDIS_BIN} not found: cluster tests skipped` }, () => {
  let redis;
  let n1;
  let n2;
  let sdk1;
  let sdk2;
  let redisPort;
  let prefix;
  const app = h.makeApp({ max_backend_events_per_sec: RATE, max_read_requests_per_sec: RATE });
  const signedTrigger = (srv) => h.signedRequest(srv, { app, method: 'POST', path: `/apps/${app.id}/events`, body: { name: 'e', data: 'signed', channels: ['rl'] } });
  const signedGet = (srv) => h.signedRequest(srv, { app, method: 'GET', path: `/apps/${app.id}/channels` });

  /** The most a bucket of RATE (burst RATE, starting full) can let through over ms. */
  const most = (ms) => RATE + Math.floor((ms * RATE) / 1000);

  /**
   * Fires n requests alternately at node 1 and node 2 (one after the other, as fast as they go),
   * then two hand-signed ones (one per node, for the Retry-After header the SDK does not show).
   * Returns {sdk: [{node, status, body}], signed: [responses], elapsed}.
   */
  async function burst(n, viaSdk, signed) {
    const t0 = Date.now();
    const out = [];
    for (let i = 0; i < n; i++) {
      const node = i % 2;
      const r = await viaSdk(node ? sdk2 : sdk1);
      out.push({ node, status: r.status, body: r.body, text: r.text });
    }
    const s = [await signed(n1), await signed(n2)];
    return { sdk: out, signed: s, elapsed: Date.now() - t0 };
  }

  function checkRefusals(b, limitName) {
    for (const r of [...b.sdk, ...b.signed]) {
      assert.ok(r.status === 200 || r.status === 429, `only 200 or 429: ${r.status} ${r.text}`);
      if (r.status === 429) assert.match(r.body.error, new RegExp(`Rate limit exceeded: ${limitName} \\(${RATE}\\)`));
    }
    const refusedSigned = b.signed.filter((r) => r.status === 429);
    assert.ok(refusedSigned.length >= 1, `a drained bucket refuses at once: ${b.signed.map((r) => r.status)}`);
    for (const r of refusedSigned) {
      assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After: ${r.headers['retry-after']}`);
    }
  }

  before(async () => {
    const port = await h.freePort();
    redisPort = port;
    prefix = `e2e-${crypto.randomBytes(4).toString('hex')}`;
    redis = new RedisServer(port);
    await redis.start();
    const config = { redis_url: `redis://127.0.0.1:${port}`, redis_prefix: prefix };
    [n1, n2] = await Promise.all([1, 2].map(() => h.startServer({ apps: [app], config })));
    for (const n of [n1, n2]) assert.match(n.stderr, /linked to Redis at 127\.0\.0\.1:\d+/, n.tail());
    sdk1 = h.sdkClient(n1, app);
    sdk2 = h.sdkClient(n2, app);
  });

  after(async () => {
    for (const n of [n1, n2]) if (n && n.alive) await n.stop();
    if (redis) {
      await redis.kill();
      redis.cleanup();
    }
  });

  test('max_backend_events_per_sec: both nodes draw from one bucket (429 + Retry-After past it)', async () => {
    const b = await burst(12, (sdk) => h.rest.trigger(sdk, 'rl', 'e', 'sdk'), signedTrigger);
    checkRefusals(b, 'max_backend_events_per_sec');
    const all = [...b.sdk, ...b.signed];
    const accepted = all.filter((r) => r.status === 200).length;
    assert.deepEqual(b.sdk.slice(0, RATE).map((r) => r.status), [200, 200, 200, 200, 200], 'the bucket starts full');
    // Per-node buckets would take about 2 * RATE of these 14 (each node sees 7).
    assert.ok(b.elapsed < 800, `burst too slow to prove anything: ${b.elapsed} ms`);
    assert.ok(accepted <= most(b.elapsed), `${accepted} accepted in ${b.elapsed} ms: ${all.map((r) => r.status)}`);
    for (const node of [0, 1]) {
      assert.ok(b.sdk.some((r) => r.node === node && r.status === 429), `node ${node + 1} refused some: ${b.sdk.map((r) => r.status)}`);
    }
  });

  test('max_read_requests_per_sec: GET /channels on either node draws from one bucket', async () => {
    const b = await burst(12, (sdk) => h.rest.get(sdk, '/channels'), signedGet);
    checkRefusals(b, 'max_read_requests_per_sec');
    const all = [...b.sdk, ...b.signed];
    const accepted = all.filter((r) => r.status === 200).length;
    assert.deepEqual(b.sdk.slice(0, RATE).map((r) => r.status), [200, 200, 200, 200, 200], 'its own bucket, full');
    for (const r of b.sdk) if (r.status === 200) assert.deepEqual(r.body, { channels: {} });
    assert.ok(b.elapsed < 800, `burst too slow to prove anything: ${b.elapsed} ms`);
    assert.ok(accepted <= most(b.elapsed), `${accepted} accepted in ${b.elapsed} ms: ${all.map((r) => r.status)}`);
    for (const node of [0, 1]) {
      assert.ok(b.sdk.some((r) => r.node === node && r.status === 429), `node ${node + 1} refused some: ${b.sdk.map((r) => r.status)}`);
    }
  });

  test('node 2 refuses at once when node 1 drained the bucket; after 1.2 s a whole burst passes again', async () => {
    await h.sleep(1200);
    const statuses = [];
    for (let i = 0; i < RATE; i++) statuses.push((await h.rest.trigger(sdk1, 'rl', 'e', `n1-${i}`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200], 'refilled to the whole burst');
    const r = await signedTrigger(n2);
    assert.equal(r.status, 429, `node 2 has not served a trigger since the refill, yet refuses: ${r.text}`);
    assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After: ${r.headers['retry-after']}`);

    await h.sleep(1200);
    const mixed = [];
    for (let i = 0; i < RATE; i++) mixed.push((await h.rest.trigger(i % 2 ? sdk2 : sdk1, 'rl', 'e', `m-${i}`)).status);
    assert.deepEqual(mixed, [200, 200, 200, 200, 200], 'triggers pass again on both nodes');
    const reads = [];
    for (let i = 0; i < RATE; i++) reads.push((await h.rest.get(i % 2 ? sdk1 : sdk2, '/channels')).status);
    assert.deepEqual(reads, [200, 200, 200, 200, 200], 'reads pass again on both nodes');
  });

  test('the bucket is a hash <prefix>:rl:<app>:<which> that expires once full; a SCRIPT FLUSH is survived', async () => {
    for (const which of [0, 1]) {
      const key = `${prefix}:rl:${app.id}:${which}`;
      const fields = await redisCmd(redisPort, 'HGETALL', key);
      assert.match(fields, /\btokens\r\n/, `${key}: ${fields}`);
      assert.match(fields, /\blast_ms\r\n/, `${key}: ${fields}`);
      const ttl = Number(/^:(-?\d+)\r\n/.exec(await redisCmd(redisPort, 'PTTL', key))[1]);
      assert.ok(ttl > 0 && ttl <= 1000 + 1000, `${key}: PTTL ${ttl} (until full, plus 1 s)`);
    }
    assert.match(await redisCmd(redisPort, 'SCRIPT', 'FLUSH'), /^\+OK/);
    await h.sleep(1200);
    // NOSCRIPT: the node loads the script again and the cluster's bucket still counts (the
    // nodes' own buckets, untouched so far, would let RATE through on each node).
    const statuses = [];
    for (let i = 0; i < RATE + 3; i++) statuses.push((await h.rest.trigger(i % 2 ? sdk2 : sdk1, 'rl', 'e', `f-${i}`)).status);
    assert.deepEqual(statuses.slice(0, RATE), [200, 200, 200, 200, 200], `${statuses}`);
    assert.ok(statuses.slice(RATE).every((st) => st === 429 || st === 200), `${statuses}`);
    assert.ok(statuses.slice(RATE).includes(429), `still cluster-wide after SCRIPT FLUSH: ${statuses}`);
    for (const n of [n1, n2]) assert.doesNotMatch(n.stderr, /refused by Redis/, n.tail());
  });

  test('Redis down: each node limits on its own bucket (no 5xx for triggers)', async () => {
    await redis.kill();
    for (const n of [n1, n2]) {
      await h.eventually(() => /lost Redis at 127\.0\.0\.1/.test(n.stderr), { timeoutMs: 5000, what: `outage logged by node on ${n.port}` });
    }
    // The nodes' own buckets were never drawn from while Redis answered: full, RATE each.
    for (const [n, sdk] of [[n1, sdk1], [n2, sdk2]]) {
      const t0 = Date.now();
      const statuses = [];
      for (let i = 0; i < RATE + 3; i++) statuses.push((await h.rest.trigger(sdk, 'rl', 'e', `down-${i}`)).status);
      const elapsed = Date.now() - t0;
      assert.ok(statuses.every((s) => s === 200 || s === 429), `only 200 or 429 on node ${n.port}: ${statuses}`);
      assert.deepEqual(statuses.slice(0, RATE), [200, 200, 200, 200, 200], `node ${n.port}: its own full bucket`);
      const accepted = statuses.filter((s) => s === 200).length;
      assert.ok(accepted <= most(elapsed), `node ${n.port}: ${accepted} accepted in ${elapsed} ms: ${statuses}`);
      assert.ok(statuses.includes(429), `node ${n.port} still limits: ${statuses}`);
      const r = await signedTrigger(n);
      assert.equal(r.status, 429, r.text);
      assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After: ${r.headers['retry-after']}`);
    }
    // Reads: the channel query itself answers 503 without Redis, but the limit still applies
    // first (per node): at most RATE reach the handler.
    const reads = [];
    for (let i = 0; i < RATE + 2; i++) reads.push((await h.rest.get(sdk1, '/channels')).status);
    assert.ok(reads.every((s) => s === 503 || s === 429), `${reads}`);
    assert.deepEqual(reads.slice(0, RATE), [503, 503, 503, 503, 503], `${reads}`);
    assert.ok(reads.includes(429), `reads are still limited: ${reads}`);
  });
});
