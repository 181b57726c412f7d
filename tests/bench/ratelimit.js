'use strict';
// The price of a cluster-wide REST rate limit: one node linked to a throw-away Redis with two
// apps, identical but for max_backend_events_per_sec: -1 (unlimited, no Redis round trip) and
// 10,000,000 (never reached, but every trigger takes its tokens from the bucket in Redis). For
// each app in turn (ROUNDS times, interleaved) pg-bench sends EVENTS triggers as fast as the REST
// API answers (REST_CONNS requests in flight) to CONNS subscribers; reported: deliveries/s
// (= triggers/s x CONNS) and the p50 / p99 trigger-to-delivery latency.
//
//   PUSHGATE_BIN=build/pushgate node tests/bench/ratelimit.js
// Environment: EVENTS [20000], CONNS [1], REST_CONNS [2], ROUNDS [3], PG_BENCH [build/pg-bench].
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const h = require('../e2e/helpers');
const { RedisServer } = require('../e2e/redis-server');

const EVENTS = Number(process.env.EVENTS || 20000);
const CONNS = Number(process.env.CONNS || 1);
const REST_CONNS = Number(process.env.REST_CONNS || 2);
const ROUNDS = Number(process.env.ROUNDS || 3);
const BENCH = process.env.PG_BENCH || path.join(__dirname, '../../build/pg-bench');

(async () => {
  const free = h.makeApp({ max_backend_events_per_sec: -1 });
  const limited = h.makeApp({ max_backend_events_per_sec: 10000000 });
  const redis = new RedisServer(await h.freePort());
  await redis.start();
  const srv = await h.startServer({
    apps: [free, limited],
    config: { redis_url: `redis://127.0.0.1:${redis.port}`, redis_prefix: 'rl', workers: 1 },
  });
  const results = { unlimited: [], limited: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, app] of [['unlimited', free], ['limited', limited]]) {
      let out;
      try {
        out = execFileSync(BENCH, ['--ws-port', String(srv.port), '--api-port', String(srv.apiPort),
        '--app-id', app.id, '--key', app.key, '--secret', app.secret, '--conns', String(CONNS),
        '--events', String(EVENTS), '--rest-conns', String(REST_CONNS), '--json', '--quiet',
        '--server-pid', String(srv.proc.pid)]).toString();
      } catch (e) {
        throw new Error(`pg-bench failed: ${e.stdout}`);
      }
      const j = JSON.parse(out.trim().split('\n').pop());
      if (!j.ok || j.rest_non2xx) throw new Error(`run failed: ${out}`);
      results[name].push(j);
      console.log(`round ${round + 1} ${name.padEnd(9)}: ${j.deliveries_per_s} deliveries/s (${Math.round(j.deliveries_per_s / CONNS)} triggers/s), p50 ${j.p50_ms} ms, p99 ${j.p99_ms} ms, server ${j.server_us_per_delivery} µs/delivery`);
    }
  }
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  for (const name of ['unlimited', 'limited']) {
    const r = results[name];
    console.log(`median ${name.padEnd(9)}: ${med(r.map((j) => j.deliveries_per_s / CONNS)).toFixed(0)} triggers/s, p50 ${med(r.map((j) => j.p50_ms))} ms, p99 ${med(r.map((j) => j.p99_ms))} ms`);
  }
  const cs = execFileSync('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats']).toString();
  console.log((cs.match(/cmdstat_evalsha:[^\r\n]*/) || ['no evalsha'])[0]);
  await srv.stop();
  await redis.kill();
  redis.cleanup();
})().catch((e) => { console.error(e); process.exit(1); });
