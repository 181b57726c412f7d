'use strict';
// TLS: `tls: {cert, key}` serves wss:// on port and https:// on api_port with a self-signed
// certificate generated per run; plain ws:// on the same port still works unless `require_tls`,
// which answers it with pusher:error 4000 + close 4000 (pusher-js then switches to wss by itself);
// start-up refuses require_tls without tls and unreadable certificate / key files (exit 2).
//
// pusher-js (Node build, faye-websocket) cannot be given a CA, so this file (and only this file,
// each test file runs in its own process) turns off certificate verification with
// NODE_TLS_REJECT_UNAUTHORIZED=0. Every other client here is given the CA explicitly with
// rejectUnauthorized: true, and one test checks the served certificate is the generated one.

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
// Node warns once about the line above; that warning is expected here.
process.removeAllListeners('warning');

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');

const h = require('./helpers');

let certDir;
let certFile;
let keyFile;
let ca;

function makeCert() {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tls-'));
  certFile = path.join(certDir, 'cert.pem');
  keyFile = path.join(certDir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'pipe' });
  ca = fs.readFileSync(certFile);
}

before(() => makeCert());
after(() => { if (certDir) fs.rmSync(certDir, { recursive: true, force: true }); });

const tlsConfig = () => ({ tls: { cert: certFile, key: keyFile } });

/** The `pusher` SDK over https, verifying the server against the generated CA. */
function tlsSdk(srv, app = srv.app) {
  return h.sdkClient(srv, app, { useTLS: true, agent: new https.Agent({ ca, rejectUnauthorized: true, keepAlive: false }) });
}

/** pusher-js over wss:// (forceTLS) on the gateway's port. */
function tlsPusher(srv, app = srv.app, extra = {}) {
  return h.pusherClient(srv, { app, pusherOptions: { forceTLS: true, wsHost: h.HOST, wssPort: srv.port, enabledTransports: ['ws'], ...extra } });
}

/** Unsigned GET; scheme 'http' or 'https' (https verifies with the CA). Rejects on connection errors. */
function get(srv, p, scheme = 'http', timeoutMs = 5000) {
  const mod = scheme === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({
      host: h.HOST, port: srv.apiPort, path: p, method: 'GET', agent: false,
      ...(scheme === 'https' ? { ca, rejectUnauthorized: true, servername: 'localhost' } : {}),
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`timeout: GET ${p}`), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/** Collects every 'error' the pusher-js connection emits, with the Pusher code if any. */
function errorCodes(client) {
  const codes = [];
  client.connection.bind('error', (e) => {
    const code = (e && e.data && e.data.code) || (e && e.error && e.error.data && e.error.data.code);
    codes.push(code);
  });
  return codes;
}

describe('tls without require_tls', () => {
  let srv;
  const clients = [];
  before(async () => { srv = await h.startServer({ config: tlsConfig() }); });
  after(async () => {
    h.disconnectAll(...clients.filter((c) => !c.ws));
    for (const c of clients) if (c.ws) c.terminate();
    if (srv) await srv.stop();
  });

  test('the start-up log names wss:// and https://', async () => {
    // The lines follow the listeners opening: wait for them.
    await h.eventually(() => /REST API listening/.test(srv.stderr), { timeoutMs: 3000, what: `start-up lines; stderr:\n${srv.tail()}` });
    assert.match(srv.stderr, new RegExp(`wss://[^ ]*:${srv.port}/app`), srv.tail());
    assert.match(srv.stderr, new RegExp(`https://[^ ]*:${srv.apiPort}/apps`), srv.tail());
  });

  test('both ports serve the generated certificate (verified against it as CA, IP SAN)', async () => {
    const fpWanted = new crypto.X509Certificate(ca).fingerprint256;
    for (const port of [srv.port, srv.apiPort]) {
      const fp = await new Promise((resolve, reject) => {
        const s = tls.connect({ host: h.HOST, port, ca, rejectUnauthorized: true }, () => {
          const cert = s.getPeerX509Certificate();
          s.destroy();
          resolve(cert.fingerprint256);
        });
        s.setTimeout(5000, () => s.destroy(new Error(`TLS handshake timeout on ${port}`)));
        s.on('error', reject);
      });
      assert.equal(fp, fpWanted, `certificate served on port ${port}`);
    }
  });

  test('pusher-js over wss:// receives an event the pusher SDK triggers over https://', async () => {
    const client = tlsPusher(srv);
    clients.push(client);
    await h.connected(client);
    assert.equal(client.connection.isUsingTLS(), true, 'pusher-js used TLS');
    const { channel } = await h.subscribe(client, 'tls-news');
    const rec = h.recorder(channel);
    const sdk = tlsSdk(srv);
    const r = await h.rest.trigger(sdk, 'tls-news', 'headline', { text: 'over https' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, {});
    const ev = await rec.wait('headline', 5000);
    assert.deepEqual(ev.data, { text: 'over https' });

    // Private channel auth and a channel query also work over TLS.
    const { channel: priv } = await h.subscribe(client, 'private-tls');
    const info = await h.rest.get(sdk, '/channels/private-tls', { info: 'subscription_count' });
    assert.equal(info.status, 200, info.text);
    assert.equal(info.body.occupied, true);
    assert.equal(info.body.subscription_count, 1);
    const precv = h.recorder(priv);
    await h.ok(h.rest.trigger(sdk, 'private-tls', 'secret-ish', 'p'));
    assert.equal((await precv.wait('secret-ish', 5000)).data, 'p');
    client.disconnect();
  });

  test('raw wss:// (CA verified) and plain ws:// on the same port both work and get the same event', async () => {
    const secure = await h.rawConnect(srv, {
      url: h.wsUrl(srv).replace(/^ws:/, 'wss:'),
      wsOptions: { ca, rejectUnauthorized: true },
    });
    clients.push(secure);
    const plain = await h.rawConnect(srv);
    clients.push(plain);
    assert.match(secure.socketId, /^\d+\.\d+$/);
    assert.match(plain.socketId, /^\d+\.\d+$/);
    assert.notEqual(secure.socketId, plain.socketId);
    for (const c of [secure, plain]) {
      const sub = await c.subscribe('mixed');
      assert.equal(sub.event, 'pusher_internal:subscription_succeeded', sub.__text);
    }
    await h.ok(h.rest.trigger(tlsSdk(srv), 'mixed', 'both', 'x'));
    const a = await secure.next('both', 5000);
    const b = await plain.next('both', 5000);
    assert.equal(a.data, 'x');
    assert.equal(b.data, 'x');
    assert.equal(a.channel, 'mixed');
    // Client events between a TLS and a plain connection.
    for (const c of [secure, plain]) {
      const s = await c.subscribeSigned('private-mixed', h.sdkClient(srv));
      assert.equal(s.event, 'pusher_internal:subscription_succeeded', s.__text);
    }
    secure.send({ event: 'client-hi', channel: 'private-mixed', data: { from: 'tls' } });
    const ce = await plain.next('client-hi', 5000);
    assert.deepEqual(typeof ce.data === 'string' ? JSON.parse(ce.data) : ce.data, { from: 'tls' });
    secure.close();
    plain.close();
  });

  test('REST over https works (health, ready, signed calls); plain http to the https port fails', async () => {
    const hres = await get(srv, '/health', 'https');
    assert.equal(hres.status, 200, hres.text);
    assert.deepEqual(JSON.parse(hres.text), { ok: true });
    const rres = await get(srv, '/ready', 'https');
    assert.equal(rres.status, 200, rres.text);
    h.checkResponse({ method: 'GET', url: '/ready', status: rres.status, contentType: rres.headers['content-type'], bodyText: rres.text });
    const ch = await h.rest.get(tlsSdk(srv), '/channels');
    assert.equal(ch.status, 200, ch.text);

    // A wrong signature over https is still 401 (TLS does not bypass signing).
    const bad = await h.rest.trigger(tlsSdk(srv, { ...srv.app, secret: 'wrong' }), 'x', 'e', 'd');
    assert.equal(bad.status, 401, bad.text);

    // Plain HTTP to the TLS port: no HTTP answer.
    const t0 = Date.now();
    await assert.rejects(get(srv, '/health', 'http', 5000), (e) => {
      assert.notEqual(e.code, 'TIMEOUT', `plain http to the https port hung for ${Date.now() - t0} ms instead of failing`);
      return true;
    });
    // The SDK without TLS fails the same way (a connection error, not an HTTP status).
    const plainSdk = h.sdkClient(srv);
    await assert.rejects(plainSdk.trigger('x', 'e', 'd'), (e) => {
      assert.equal(typeof e.status, 'undefined', `expected a connection error, got HTTP ${e.status}`);
      return true;
    });
    // And the server still serves https afterwards.
    assert.equal((await get(srv, '/health', 'https')).status, 200);
  });

  test('a client that connects and sends nothing does not block others', async () => {
    const net = require('node:net');
    const idle = net.connect({ host: h.HOST, port: srv.port });
    await new Promise((resolve, reject) => { idle.once('connect', resolve); idle.once('error', reject); });
    try {
      const c = await h.rawConnect(srv, { url: h.wsUrl(srv).replace(/^ws:/, 'wss:'), wsOptions: { ca } });
      clients.push(c);
      assert.equal((await c.ping()).event, 'pusher:pong');
      c.close();
    } finally {
      idle.destroy();
    }
  });
});

describe('require_tls', () => {
  let srv;
  const clients = [];
  before(async () => { srv = await h.startServer({ config: { ...tlsConfig(), require_tls: true } }); });
  after(async () => {
    h.disconnectAll(...clients.filter((c) => !c.ws));
    for (const c of clients) if (c.ws) c.terminate();
    if (srv) await srv.stop();
  });

  test('the start-up log says plain ws:// is refused', async () => {
    await h.eventually(() => /REST API listening/.test(srv.stderr), { timeoutMs: 3000, what: `start-up lines; stderr:\n${srv.tail()}` });
    assert.match(srv.stderr, /WebSocket listening on wss:[^\n]*4000/, srv.tail());
  });

  test('plain ws:// gets pusher:error 4000 then close 4000, with no connection_established', async () => {
    const plain = await h.rawConnect(srv, { established: false });
    clients.push(plain);
    const err = await plain.next('pusher:error', 5000);
    const data = typeof err.data === 'string' ? JSON.parse(err.data) : err.data;
    assert.equal(data.code, 4000, err.__text);
    assert.equal(typeof data.message, 'string');
    const closed = await plain.waitClose(5000);
    assert.equal(closed.code, 4000);
    assert.equal(plain.all('pusher:connection_established').length, 0, plain.historyText());
  });

  test('wss:// works', async () => {
    const secure = await h.rawConnect(srv, { url: h.wsUrl(srv).replace(/^ws:/, 'wss:'), wsOptions: { ca, rejectUnauthorized: true } });
    clients.push(secure);
    assert.equal((await secure.subscribe('only-tls')).event, 'pusher_internal:subscription_succeeded');
    await h.ok(h.rest.trigger(tlsSdk(srv), 'only-tls', 'ev', 'v'));
    assert.equal((await secure.next('ev', 5000)).data, 'v');
    secure.close();
  });

  test('pusher-js with forceTLS:false is told 4000 and reconnects over wss:// by itself', async () => {
    const client = h.pusherClient(srv, { pusherOptions: { forceTLS: false, wsPort: srv.port, wssPort: srv.port } });
    clients.push(client);
    const codes = errorCodes(client);
    await h.connected(client, 10000);
    assert.equal(client.connection.isUsingTLS(), true, 'pusher-js switched to TLS');
    assert.ok(codes.includes(4000), `pusher-js saw error 4000; saw ${JSON.stringify(codes)}`);
    const { channel } = await h.subscribe(client, 'switched');
    const rec = h.recorder(channel);
    await h.ok(h.rest.trigger(tlsSdk(srv), 'switched', 'after-switch', { n: 1 }));
    assert.deepEqual((await rec.wait('after-switch', 5000)).data, { n: 1 });
    client.disconnect();
  });
});

describe('tls start-up errors (exit 2 with a message)', () => {
  async function run(config) {
    const [port, apiPort] = await h.freePorts(2);
    const file = h.writeConfig({ host: h.HOST, port, api_port: apiPort, workers: 1, apps: [h.makeApp()], ...config });
    const r = await h.runBinary(['--config', file]);
    return { ...r, file };
  }

  test('require_tls without tls', async () => {
    const r = await run({ require_tls: true });
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /require_tls/);
    assert.match(r.stderr, /tls/);
  });

  test('a certificate path that does not exist names tls.cert', async () => {
    const r = await run({ tls: { cert: path.join(certDir, 'nope.pem'), key: keyFile } });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /tls\.cert/);
    assert.match(r.stderr, /nope\.pem/);
    assert.ok(r.stderr.trim().split('\n').length <= 3, `a short message, got:\n${r.stderr}`);
  });

  test('a key path that does not exist names tls.key', async () => {
    const r = await run({ tls: { cert: certFile, key: path.join(certDir, 'missing-key.pem') } });
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, /tls\.key/);
  });

  test('tls without key / with an unknown member is a config error', async () => {
    const r1 = await run({ tls: { cert: certFile } });
    assert.equal(r1.code, 2, `missing key: exit code; stderr: ${r1.stderr}`);
    assert.match(r1.stderr, /tls/);
    const r2 = await run({ tls: { cert: certFile, key: keyFile, pass: 'x' } });
    assert.equal(r2.code, 2, `unknown member: exit code; stderr: ${r2.stderr}`);
    assert.match(r2.stderr, /pass/);
  });

  test('a certificate file that is not PEM stops start-up cleanly (non-zero exit, no crash, a message)', async () => {
    const junk = path.join(certDir, 'junk.pem');
    fs.writeFileSync(junk, 'this is not a certificate\n');
    const r = await run({ tls: { cert: junk, key: keyFile } });
    assert.equal(r.signal, null, `killed by a signal; stderr: ${r.stderr}`);
    assert.notEqual(r.code, 0, `exit code; stderr: ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0, 'a message on stderr');
    assert.ok(!/Sanitizer|runtime error:/.test(r.stderr), r.stderr);
  });
});
