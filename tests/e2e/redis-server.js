'use strict';
// A throw-away redis-server for the cluster suites (17-21): Debian's /usr/bin/redis-server on
// 127.0.0.1, no RDB, no AOF, its own temp dir; killed when the test process exits.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./helpers');

const REDIS_BIN = '/usr/bin/redis-server';
const haveRedis = fs.existsSync(REDIS_BIN);

const redisProcs = new Set();
process.on('exit', () => {
  for (const p of redisProcs) {
    try { p.kill('SIGKILL'); } catch (_) { /* gone */ }
  }
});

/** A throw-away redis-server on 127.0.0.1:port: no RDB, no AOF, its own temp dir. */
class RedisServer {
  constructor(port) {
    this.port = port;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-redis-'));
    this.proc = null;
    this.output = '';
  }

  async start() {
    const proc = spawn(REDIS_BIN, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    redisProcs.add(proc);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => { redisProcs.delete(proc); resolve(); }));
    const cap = (b) => { this.output += b.toString('utf8'); };
    proc.stdout.on('data', cap);
    proc.stderr.on('data', cap);
    await h.eventually(() => h.tcpAccepts(this.port), { timeoutMs: 5000, intervalMs: 50, what: `redis-server on ${this.port}: ${this.output}` });
  }

  /** SIGKILL: the abrupt way, as a crash or a network cut looks to the nodes. */
  async kill() {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  cleanup() {
    try { fs.rmSync(this.dir, { recursive: true, force: true }); } catch (_) { /* ignore */ }
  }
}

module.exports = { REDIS_BIN, haveRedis, RedisServer };
