'use strict';
// Startup: --help/--version, the embedded default app, environment overrides, bad configurations.

const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');

const h = require('./helpers');

describe('command line', () => {
  test('--help exits 0 and describes the options', async () => {
    const r = await h.runBinary(['--help']);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    const out = r.stdout + r.stderr;
    assert.match(out, /--config/, 'help mentions --config');
    for (const key of ['port', 'api_port', 'workers', 'activity_timeout', 'apps']) {
      assert.ok(out.includes(key), `help mentions ${key}`);
    }
  });

  test('--version exits 0 and prints a version', async () => {
    const r = await h.runBinary(['--version']);
    assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stdout + r.stderr, /\d+\.\d+\.\d+/);
  });

  test('an unknown option exits non-zero', async () => {
    const r = await h.runBinary(['--no-such-option']);
    assert.notEqual(r.code, 0);
    assert.notEqual(r.code, null, 'exited by itself');
  });
});

describe('default app (no arguments)', () => {
  test('serves app-id / app-key / app-secret on the env ports, with a warning', async (t) => {
    const [port, apiPort] = await h.freePorts(2);
    const proc = h.spawnBinary([], {
      env: { PUSHGATE_PORT: String(port), PUSHGATE_API_PORT: String(apiPort), PUSHGATE_HOST: '127.0.0.1', PUSHGATE_WORKERS: '2' },
    });
    const srv = new h.Server(proc, {
      port, apiPort, apps: [{ id: 'app-id', key: 'app-key', secret: 'app-secret' }],
    });
    srv.app = srv.apps[0];
    t.after(() => srv.stop());
    await h.waitReady(srv, [port, apiPort]);

    // Warning about the demo credentials.
    await h.eventually(() => /warn/i.test(srv.stderr), { timeoutMs: 3000, what: 'a warning on stderr' })
      .catch(() => assert.fail(`expected a warning about the default app on stderr, got:\n${srv.tail()}`));
    assert.match(srv.stderr, /default|demo|app-key|app-id/i, 'the warning names the default app');

    const raw = await h.rawConnect(srv, { key: 'app-key' });
    t.after(() => raw.close());
    assert.equal(raw.established.activity_timeout, 120, 'default activity_timeout is 120');
    assert.match(raw.socketId, /^\d+\.\d+$/);
    const sub = await raw.subscribe('default-app-channel');
    assert.equal(sub.event, 'pusher_internal:subscription_succeeded');

    const sdk = h.sdkClient(srv);
    const r = await h.rest.trigger(sdk, 'default-app-channel', 'hello', 'from-default');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    const ev = await raw.next('hello', 3000);
    assert.equal(ev.data, 'from-default');

    // Wrong key for the default app is refused.
    const bad = await h.rawConnect(srv, { key: 'not-app-key', established: false });
    const err = await bad.next('pusher:error', 3000);
    assert.equal(err.data.code, 4001);
    assert.equal((await bad.waitClose()).code, 4001);
  });
});

describe('environment overrides', () => {
  test('PUSHGATE_PORT / PUSHGATE_API_PORT win over the file', async (t) => {
    const [filePort, fileApi, envPort, envApi] = await h.freePorts(4);
    const app = h.makeApp();
    const cfg = h.writeConfig({ host: '127.0.0.1', port: filePort, api_port: fileApi, workers: 2, apps: [app] });
    const proc = h.spawnBinary(['--config', cfg], { env: { PUSHGATE_PORT: String(envPort), PUSHGATE_API_PORT: String(envApi) } });
    const srv = new h.Server(proc, { port: envPort, apiPort: envApi, apps: [app], app });
    t.after(() => srv.stop());
    await h.waitReady(srv, [envPort, envApi]);
    assert.equal(await h.tcpAccepts(filePort), false, 'file port must not be listening');
    assert.equal(await h.tcpAccepts(fileApi), false, 'file api_port must not be listening');
    const raw = await h.rawConnect(srv);
    t.after(() => raw.close());
    assert.match(raw.socketId, /^\d+\.\d+$/);
    const r = await h.rest.get(h.sdkClient(srv), '/channels');
    assert.equal(r.status, 200, r.text);
  });

  test('an invalid environment value exits 2 naming the variable', async () => {
    const r = await h.runBinary([], { env: { PUSHGATE_PORT: 'not-a-port', PUSHGATE_API_PORT: String(await h.freePort()) } });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /PUSHGATE_PORT/);
  });
});

describe('bad configuration exits 2 with one line naming file and key', () => {
  const cases = [
    { name: 'missing file', file: () => path.join(os.tmpdir(), `pushgate-no-such-${process.pid}.json`), key: null },
    { name: 'invalid JSON syntax', raw: '{"port": 6001, "apps": [', key: null },
    { name: 'top level is not an object', raw: '[1,2,3]', key: null },
    { name: 'unknown top-level key', cfg: { prot: 1 }, key: 'prot' },
    { name: 'port of wrong type', cfg: { port: 'abc' }, key: 'port' },
    { name: 'port out of range', cfg: { port: 70000 }, key: 'port' },
    { name: 'api_port negative', cfg: { api_port: -5 }, key: 'api_port' },
    { name: 'workers out of range', cfg: { workers: 100000 }, key: 'workers' },
    { name: 'activity_timeout zero', cfg: { activity_timeout: 0 }, key: 'activity_timeout' },
    { name: 'log_level not a known level', cfg: { log_level: 'loud' }, key: 'log_level' },
    { name: 'apps not an array', cfg: { apps: { id: 1 } }, key: 'apps' },
    { name: 'app without secret', apps: [{ id: '1', key: 'k' }], key: 'secret' },
    { name: 'app without key', apps: [{ id: '1', secret: 's' }], key: 'key' },
    { name: 'app with unknown key', apps: [{ id: '1', key: 'k', secret: 's', colour: 'red' }], key: 'colour' },
    { name: 'app enabled not a boolean', apps: [{ id: '1', key: 'k', secret: 's', enabled: 'yes' }], key: 'enabled' },
    { name: 'app max_connections zero', apps: [{ id: '1', key: 'k', secret: 's', max_connections: 0 }], key: 'max_connections' },
    { name: 'webhook url not http', apps: [{ id: '1', key: 'k', secret: 's', webhooks: [{ url: 'ftp://example.invalid/' }] }], key: 'url' },
    { name: 'duplicate app key', apps: [{ id: '1', key: 'k', secret: 's' }, { id: '2', key: 'k', secret: 't' }], key: 'key' },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const [port, apiPort] = await h.freePorts(2);
      let file;
      if (c.file) file = c.file();
      else if (c.raw) file = h.writeConfig(c.raw);
      else {
        const cfg = { host: '127.0.0.1', port, api_port: apiPort, workers: 2, ...(c.cfg || {}) };
        if (c.apps) cfg.apps = c.apps;
        file = h.writeConfig(cfg);
      }
      const r = await h.runBinary(['--config', file], { timeoutMs: 8000 });
      assert.equal(r.code, 2, `exit code must be 2 (signal ${r.signal}); stderr: ${r.stderr}`);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`);
      assert.ok(lines[0].includes(file), `stderr names the file ${file}: ${lines[0]}`);
      if (c.key) assert.ok(lines[0].includes(c.key), `stderr names the key "${c.key}": ${lines[0]}`);
      assert.equal(await h.tcpAccepts(port), false, 'no listener was opened');
      if (!c.file && fs.existsSync(file)) fs.rmSync(path.dirname(file), { recursive: true, force: true });
    });
  }
});

describe('shutdown', () => {
  test('SIGTERM stops the server promptly', async () => {
    const srv = await h.startServer();
    const raw = await h.rawConnect(srv);
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    const killer = setTimeout(() => srv.proc.kill('SIGKILL'), 5000);
    const ex = await srv.exitPromise;
    clearTimeout(killer);
    assert.ok(Date.now() - t0 < 3000, `exited within 3 s (took ${Date.now() - t0} ms)`);
    assert.notEqual(ex.signal, 'SIGKILL', 'did not need SIGKILL');
    assert.equal(ex.code, 0, `exit status after SIGTERM; stderr:\n${srv.tail()}`);
    const c = await raw.waitClose(3000);
    assert.equal(c.code, 4200, `open connections are closed with 4200 (reconnect now): ${JSON.stringify(c)}`);
    const e = raw.all('pusher:error');
    assert.ok(e.some((f) => f.data.code === 4200), `pusher:error 4200 precedes the close: ${raw.historyText()}`);
  });
});
