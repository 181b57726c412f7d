'use strict';
// Cluster resync cost: how long Redis is busy, and how long a node takes, to register a node's
// whole state again after its link to Redis is cut (srv_cstate_sync.c: stage runs + one commit).
//
//   PUSHGATE_BIN=build/pushgate node tests/bench/resync.js [connections] [presence-every]
//
// Starts a throw-away redis-server and one pushgate node, opens N raw WebSocket clients (over
// 127.0.0.1..127.0.0.8), each subscribed to a channel of its own; every K-th one also joins one of
// 100 presence channels as a user of its own. Then it cuts the node's Redis connections
// (CLIENT KILL) three times and reports, from Redis's SLOWLOG (every command logged), the longest
// single script run and the total script time of each resync, and the time from the cut until
// the node logged its re-registration.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const WebSocket = require('ws');

const h = require('../e2e/helpers');
const { RedisServer } = require('../e2e/redis-server');

const N = Number(process.argv[2] || 10000);
const K = Number(process.argv[3] || 4);

function cli(port, ...args) {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { maxBuffer: 1 << 28 }).toString().trim();
}

function open(srv, app, i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${h.HOST}:${srv.port}/app/${app.key}?protocol=7&client=bench&version=1`, {
      perMessageDeflate: false,
      localAddress: `127.0.0.${1 + (i % 8)}`,
    });
    ws.on('error', reject);
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      if (m.event !== 'pusher:connection_established') return;
      const sid = JSON.parse(m.data).socket_id;
      ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: `bench-${i}` } }));
      if (i % K === 0) {
        const ch = `presence-room-${Math.floor(i / K) % 100}`;
        const cd = JSON.stringify({ user_id: `u${i}`, user_info: { n: i } });
        const sig = crypto.createHmac('sha256', app.secret).update(`${sid}:${ch}:${cd}`).digest('hex');
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: ch, auth: `${app.key}:${sig}`, channel_data: cd } }));
      }
      resolve(ws);
    });
  });
}

(async () => {
  const app = h.makeApp({});
  const redis = new RedisServer(await h.freePort());
  await redis.start();
  const srv = await h.startServer({
    apps: [app],
    config: { redis_url: `redis://127.0.0.1:${redis.port}`, redis_prefix: 'bench' },
  });
  const socks = [];
  for (let i = 0; i < N; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 200); j++) batch.push(open(srv, app, j));
    socks.push(...(await Promise.all(batch)));
  }
  const want = Math.min(100, Math.ceil(N / K)); // presence channels
  await h.eventually(() => Number(cli(redis.port, 'HLEN', `bench:subs:${app.id}`)) >= N + want,
    { timeoutMs: 60000, intervalMs: 200, what: 'every subscription registered' });
  const rss = (await import('node:fs')).readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1];
  console.log(`node: ${N} connections, ${N} channels + ${want} presence channels with ${Math.ceil(N / K)} members; RSS ${Math.round(rss / 1024)} MiB; Redis ${cli(redis.port, 'INFO', 'memory').match(/used_memory_human:(\S+)/)[1]}`);
  cli(redis.port, 'CONFIG', 'SET', 'slowlog-log-slower-than', '0');
  cli(redis.port, 'CONFIG', 'SET', 'slowlog-max-len', '100000');
  for (let round = 1; round <= 3; round++) {
    cli(redis.port, 'SLOWLOG', 'RESET');
    const before = (srv.stderr.match(/registered \d+ channel/g) || []).length;
    const t0 = Date.now();
    cli(redis.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
    cli(redis.port, 'CLIENT', 'KILL', 'TYPE', 'normal');
    await h.eventually(() => (srv.stderr.match(/registered \d+ channel/g) || []).length > before,
      { timeoutMs: 30000, intervalMs: 20, what: 'the node registered its state again' });
    const logged = Date.now() - t0;
    await h.sleep(1500);
    // SLOWLOG GET entries: id, time, duration (µs), [args...]
    const lines = cli(redis.port, 'SLOWLOG', 'GET', '100000').split('\n');
    let max = 0; let total = 0; let runs = 0; let maxOp = '';
    for (let i = 0; i + 3 < lines.length; i++) {
      if (lines[i + 3] !== 'EVALSHA' || !/^\d+$/.test(lines[i + 2])) continue;
      const op = lines[i + 6];
      if (!['stage0', 'stage', 'commit', 'roster'].includes(op)) continue;
      const us = Number(lines[i + 2]);
      total += us; runs++;
      if (us > max) { max = us; maxOp = op; }
    }
    console.log(`round ${round}: re-registered (log line) ${logged} ms after the cut; ${runs} script runs, ${(total / 1000).toFixed(1)} ms of Redis time in all, longest single run ${(max / 1000).toFixed(1)} ms (${maxOp})`);
  }
  for (const s of socks) s.terminate();
  await srv.stop();
  await redis.kill();
  redis.cleanup();
})().catch((e) => { console.error(e); process.exit(1); });
