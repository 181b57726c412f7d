'use strict';
// Shared helpers of the pushgate end-to-end suite.
//
// * startServer(): runs the real binary on free ports with a per-test JSON config (workers: 2).
// * pusherClient(): an unmodified pusher-js (Node build) client that signs auth locally with the
//   `pusher` SDK (no HTTP auth endpoint).
// * sdkClient() + rest wrappers: the `pusher` server SDK; every REST response is checked against
//   api-spec/openapi.yaml by checkResponse().
// * rawConnect(): a raw `ws` client with `await next(predicate, timeoutMs)`.
// * signedRequest(): a hand-signed REST request (spec 9.2) for malformed bodies / wrong methods.
//
// Environment: PUSHGATE_BIN (binary, relative to the repo root; default build/pushgate),
// PUSHGATE_E2E_VERBOSE=1 (print each server's stderr when it stops).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const WebSocket = require('ws');
const PusherServer = require('pusher');
const PusherClient = require('pusher-js');
const YAML = require('yaml');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.resolve(ROOT, process.env.PUSHGATE_BIN || path.join('build', 'pushgate'));
const HOST = '127.0.0.1';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// Process management

const running = new Set();
const tmpDirs = new Set();
process.on('exit', () => {
  for (const p of running) {
    try { p.kill('SIGKILL'); } catch (_) { /* gone */ }
  }
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch (_) { /* ignore */ }
  }
});

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function freePorts(n) {
  const out = new Set();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

function tcpAccepts(port, host = HOST, timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => { s.removeAllListeners(); s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

let appCounter = 0;

/** A complete app entry with the suite's defaults; `over` replaces members. */
function makeApp(over = {}) {
  appCounter += 1;
  const n = 1000 + appCounter;
  return {
    id: String(n),
    key: `key-${n}-${crypto.randomBytes(3).toString('hex')}`,
    secret: `secret-${crypto.randomBytes(8).toString('hex')}`,
    enabled: true,
    enable_client_messages: true,
    ...over,
  };
}

function binExists() {
  try {
    fs.accessSync(BIN, fs.constants.X_OK);
    return true;
  } catch (_) {
    return false;
  }
}

class Server {
  constructor(proc, info) {
    this.proc = proc;
    Object.assign(this, info); // port, apiPort, config, configPath, apps, app
    this.stdout = '';
    this.stderr = '';
    this.exited = null; // {code, signal}
    this.exitPromise = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exited = { code, signal };
        running.delete(proc);
        resolve(this.exited);
      });
    });
    const cap = (k) => (buf) => {
      this[k] += buf.toString('utf8');
      if (this[k].length > 256 * 1024) this[k] = this[k].slice(-128 * 1024);
    };
    proc.stdout.on('data', cap('stdout'));
    proc.stderr.on('data', cap('stderr'));
  }

  get alive() { return this.exited === null; }

  /** Last lines of stderr, for assertion messages. */
  tail(n = 30) {
    return this.stderr.split('\n').slice(-n).join('\n');
  }

  /**
   * SIGTERM, then SIGKILL after 3 s. Unless check === false, asserts a clean exit: status 0, no
   * SIGKILL needed, no sanitizer report on stderr (the suite also runs under ASan/UBSan).
   */
  async stop({ check = true } = {}) {
    let killed = false;
    if (!this.exited) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => { if (!this.exited) { killed = true; this.proc.kill('SIGKILL'); } }, 3000);
      await this.exitPromise;
      clearTimeout(t);
    }
    const r = this.exited;
    if (process.env.PUSHGATE_E2E_VERBOSE && this.stderr) {
      process.stderr.write(`--- pushgate stderr (port ${this.port}) ---\n${this.stderr}\n`);
    }
    if (check && !this.stopChecked) {
      this.stopChecked = true;
      assert.ok(!/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(this.stderr), `sanitizer report on stderr:\n${this.tail(60)}`);
      assert.ok(!killed, `pushgate did not exit within 3 s of SIGTERM; stderr:\n${this.tail()}`);
      assert.ok(r.code === 0 && r.signal === null, `pushgate exit after SIGTERM: ${JSON.stringify(r)}; stderr:\n${this.tail()}`);
    }
    return r;
  }

  appById(id) { return this.apps.find((a) => a.id === id); }
}

/** Spawns the binary with args/env; does not wait for ports. */
function spawnBinary(args, { env = {}, cwd = ROOT } = {}) {
  if (!binExists()) throw new Error(`pushgate binary not found or not executable: ${BIN} (set PUSHGATE_BIN)`);
  const childEnv = { ...process.env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('PUSHGATE_') && k !== 'PUSHGATE_BIN') delete childEnv[k];
  Object.assign(childEnv, env);
  const proc = spawn(BIN, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  return proc;
}

/** Runs the binary to completion (for --help, bad configs). */
async function runBinary(args, { env = {}, timeoutMs = 10000 } = {}) {
  const proc = spawnBinary(args, { env });
  const srv = new Server(proc, {});
  const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await srv.exitPromise;
  clearTimeout(t);
  return { code, signal, stdout: srv.stdout, stderr: srv.stderr };
}

function tmpDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-e2e-'));
  tmpDirs.add(d);
  return d;
}

function writeConfig(obj, name = 'pushgate.json') {
  const file = path.join(tmpDir(), name);
  fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
  return file;
}

async function waitReady(srv, ports, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!srv.alive) {
      throw new Error(`pushgate exited early (${JSON.stringify(srv.exited)}); stderr:\n${srv.tail()}`);
    }
    let ok = true;
    for (const p of ports) if (!(await tcpAccepts(p))) { ok = false; break; }
    if (ok) return;
    if (Date.now() > deadline) {
      await srv.stop();
      throw new Error(`pushgate did not accept on ports ${ports.join(',')} within ${timeoutMs} ms; stderr:\n${srv.tail()}`);
    }
    await sleep(50);
  }
}

/**
 * Starts pushgate with a temp config.
 * opts.config: top-level members merged over the defaults.
 * opts.apps: array of app entries (use makeApp); default one app from makeApp(opts.app).
 * opts.env: extra environment.
 * opts.args: extra command-line arguments after --config FILE (e.g. ['--log-level', 'debug']).
 * opts.config.port / opts.config.api_port (e.g. an earlier server's, to restart on its ports) are
 * honoured: srv.port / srv.apiPort follow the config.
 */
async function startServer(opts = {}) {
  const [port, apiPort] = await freePorts(2);
  const apps = opts.apps || [makeApp(opts.app || {})];
  const config = {
    host: HOST,
    port,
    api_port: apiPort,
    workers: 2,
    ...(opts.config || {}),
    apps,
  };
  const configPath = writeConfig(config);
  const proc = spawnBinary(['--config', configPath, ...(opts.args || [])], { env: opts.env || {} });
  const srv = new Server(proc, { port: config.port, apiPort: config.api_port, config, configPath, apps, app: apps[0] });
  await waitReady(srv, [config.port, config.api_port], opts.readyTimeoutMs);
  return srv;
}

/** node:test convenience: start a server and stop it when the test (or suite) `t` ends. */
async function useServer(t, opts) {
  const srv = await startServer(opts);
  t.after(() => srv.stop());
  return srv;
}

// ------------------------------------------------------------------------------------------------
// OpenAPI response checking

const SPEC_PATH = path.join(ROOT, 'api-spec', 'openapi.yaml');
let specCache = null;

function loadSpec() {
  if (specCache) return specCache;
  const doc = YAML.parse(fs.readFileSync(SPEC_PATH, 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const routes = Object.keys(doc.paths).map((tpl) => ({
    tpl,
    re: new RegExp(`^${tpl.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
    item: doc.paths[tpl],
  }));
  specCache = { doc, ajv, routes, compiled: new Map() };
  return specCache;
}

function deref(doc, node, seen = new Set()) {
  if (Array.isArray(node)) return node.map((x) => deref(doc, x, seen));
  if (!node || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string') {
    const ref = node.$ref;
    assert.ok(ref.startsWith('#/'), `only local $ref supported: ${ref}`);
    if (seen.has(ref)) throw new Error(`recursive $ref ${ref}`);
    const target = ref.slice(2).split('/').reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    assert.ok(target !== undefined, `unresolved $ref ${ref}`);
    return deref(doc, target, new Set([...seen, ref]));
  }
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = deref(doc, v, seen);
  return out;
}

function validatorFor(key, schema) {
  const spec = loadSpec();
  if (!spec.compiled.has(key)) spec.compiled.set(key, spec.ajv.compile(deref(spec.doc, schema)));
  return spec.compiled.get(key);
}

/**
 * Validates one REST response against api-spec/openapi.yaml.
 * Returns the parsed JSON body. Throws an AssertionError naming the request on mismatch.
 */
function checkResponse({ method, url, status, contentType, bodyText }) {
  const spec = loadSpec();
  const u = new URL(url, 'http://x');
  const where = `${method} ${u.pathname} -> ${status}`;
  let body;
  try {
    body = JSON.parse(bodyText);
  } catch (e) {
    assert.fail(`${where}: body is not JSON: ${JSON.stringify(String(bodyText).slice(0, 300))}`);
  }
  let schema;
  let key;
  const route = spec.routes.find((r) => r.re.test(u.pathname));
  const op = route && route.item[method.toLowerCase()];
  if (!route) {
    assert.equal(status, 404, `${where}: path is not in openapi.yaml, so only 404 is allowed`);
    schema = spec.doc.components.schemas.Error;
    key = 'unrouted-404';
  } else if (!op) {
    assert.equal(status, 405, `${where}: method not in openapi.yaml for ${route.tpl}, so only 405 is allowed`);
    schema = spec.doc.components.schemas.Error;
    key = 'method-405';
  } else {
    const resp = op.responses[String(status)];
    assert.ok(resp, `${where}: status ${status} is not documented for ${method} ${route.tpl}; body ${bodyText.slice(0, 300)}`);
    const r = deref(spec.doc, resp);
    const media = r.content && r.content['application/json'];
    assert.ok(media && media.schema, `${where}: no application/json schema documented`);
    schema = media.schema;
    key = `${route.tpl} ${method} ${status}`;
  }
  if (status === 200 && contentType !== undefined) {
    assert.match(String(contentType || ''), /^application\/json\b/i, `${where}: success Content-Type must be application/json`);
  }
  if (status >= 400 && contentType !== undefined && contentType !== null) {
    assert.match(String(contentType), /^application\/json\b/i, `${where}: error Content-Type must be application/json, got ${contentType}`);
  }
  const validate = validatorFor(key, schema);
  if (!validate(body)) {
    assert.fail(`${where}: body does not match openapi.yaml schema: ${JSON.stringify(validate.errors)}; body ${bodyText.slice(0, 500)}`);
  }
  return body;
}

// ------------------------------------------------------------------------------------------------
// pusher SDK (server side) and REST wrappers

function sdkClient(srv, app = srv.app, extra = {}) {
  return new PusherServer({
    appId: app.id,
    key: app.key,
    secret: app.secret,
    host: HOST,
    port: String(srv.apiPort),
    useTLS: false,
    timeout: 10000,
    ...extra,
  });
}

/**
 * Runs an SDK request promise, validates the response against openapi.yaml, and returns
 * {status, body, contentType}. Never throws for HTTP error statuses (the caller asserts).
 */
async function sdkCall(method, promiseFn) {
  let res;
  try {
    res = await promiseFn();
  } catch (err) {
    if (err && typeof err.status === 'number') {
      const body = checkResponse({ method, url: err.url, status: err.status, contentType: undefined, bodyText: err.body });
      return { status: err.status, body, text: err.body };
    }
    throw err;
  }
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  const body = checkResponse({ method, url: res.url, status: res.status, contentType, bodyText: text });
  return { status: res.status, body, text, contentType };
}

const rest = {
  trigger: (sdk, channels, event, data, params) => sdkCall('POST', () => sdk.trigger(channels, event, data, params)),
  triggerBatch: (sdk, batch) => sdkCall('POST', () => sdk.triggerBatch(batch)),
  get: (sdk, p, params) => sdkCall('GET', () => sdk.get({ path: p, params })),
  post: (sdk, p, body, params) => sdkCall('POST', () => sdk.post({ path: p, body, params })),
  terminate: (sdk, userId) => sdkCall('POST', () => sdk.terminateUserConnections(userId)),
};

/** Asserts status 200 and returns body. */
async function ok(p) {
  const r = await p;
  assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.text}`);
  return r.body;
}

/**
 * Hand-signed REST request (spec 9.2). Options:
 *  method, path (full, e.g. /apps/1/events), params (extra query params), body (string|object|undefined),
 *  key, secret, timestamp, authVersion, bodyMd5 (override), signature (override), omit (array of param
 *  names to leave out), headers.
 * Returns {status, headers, text, body} and validates against openapi.yaml unless check === false.
 */
async function signedRequest(srv, opts) {
  const app = opts.app || srv.app;
  const method = (opts.method || 'GET').toUpperCase();
  let bodyBuf;
  if (Buffer.isBuffer(opts.body)) bodyBuf = opts.body;
  else if (typeof opts.body === 'string') bodyBuf = Buffer.from(opts.body, 'utf8');
  else if (opts.body !== undefined) bodyBuf = Buffer.from(JSON.stringify(opts.body), 'utf8');
  const params = {
    auth_key: opts.key !== undefined ? opts.key : app.key,
    auth_timestamp: String(opts.timestamp !== undefined ? opts.timestamp : Math.floor(Date.now() / 1000)),
    auth_version: opts.authVersion || '1.0',
    ...(opts.params || {}),
  };
  if (bodyBuf && bodyBuf.length > 0) params.body_md5 = crypto.createHash('md5').update(bodyBuf).digest('hex');
  if (opts.bodyMd5 !== undefined) params.body_md5 = opts.bodyMd5;
  for (const k of opts.omit || []) delete params[k];
  const query = Object.keys(params)
    .map((k) => [k.toLowerCase(), params[k]])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const toSign = `${method}\n${opts.path}\n${query}`;
  const sig = opts.signature !== undefined
    ? opts.signature
    : crypto.createHmac('sha256', opts.secret !== undefined ? opts.secret : app.secret).update(toSign).digest('hex');
  let fullQuery = query;
  if (!(opts.omit || []).includes('auth_signature')) fullQuery += `${fullQuery ? '&' : ''}auth_signature=${sig}`;
  const reqPath = fullQuery ? `${opts.path}?${encodeURI(fullQuery)}` : opts.path;
  const headers = { ...(opts.headers || {}) };
  if (bodyBuf) {
    headers['content-type'] = headers['content-type'] || 'application/json';
    headers['content-length'] = String(bodyBuf.length);
  }
  // Large bodies use "Expect: 100-continue" so a server that answers early (413 from
  // Content-Length) is not raced by our upload (EPIPE).
  const expectContinue = bodyBuf && (opts.expectContinue !== undefined ? opts.expectContinue : bodyBuf.length > 64 * 1024);
  if (expectContinue) headers.expect = '100-continue';
  const res = await new Promise((resolve, reject) => {
    let responded = false;
    const req = http.request({ host: HOST, port: srv.apiPort, method, path: reqPath, headers, agent: false }, (r) => {
      responded = true;
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode, headers: r.headers, text: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs || 10000, () => req.destroy(new Error(`timeout: ${method} ${opts.path}`)));
    req.on('error', (e) => { if (!responded) reject(e); });
    if (expectContinue) {
      req.on('continue', () => req.end(bodyBuf));
    } else {
      if (bodyBuf) req.write(bodyBuf);
      req.end();
    }
  });
  if (opts.check !== false) {
    res.body = checkResponse({ method, url: opts.path, status: res.status, contentType: res.headers['content-type'], bodyText: res.text });
  } else {
    try { res.body = JSON.parse(res.text); } catch (_) { res.body = undefined; }
  }
  return res;
}

/**
 * Unsigned GET on api_port (/metrics, /health, /ready). opts: agent (e.g. a keep-alive
 * http.Agent; default none), timeoutMs. Resolves {status, headers, text}; rejects on connection
 * errors and timeouts (err.code 'TIMEOUT'). No openapi check (the caller decides).
 */
function httpGet(srv, p, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port: srv.apiPort, method: 'GET', path: p, agent: opts.agent || false }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode, headers: r.headers, text: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', reject);
    });
    req.setTimeout(opts.timeoutMs || 5000, () => req.destroy(Object.assign(new Error(`timeout: GET ${p}`), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

// ------------------------------------------------------------------------------------------------
// pusher-js clients

/**
 * Creates an unmodified pusher-js client. Options:
 *  app (default srv.app), sdk (a `pusher` SDK for signing; default sdkClient(srv, app)),
 *  presence: {user_id, user_info} or function(channelName) -> data (presence channel_data),
 *  authorize: function({socketId, channelName}, sdk) -> auth object (overrides the default signer),
 *  user: user_data for signin, pusherOptions: extra options.
 */
function pusherClient(srv, opts = {}) {
  const app = opts.app || srv.app;
  const sdk = opts.sdk || sdkClient(srv, app);
  const client = new PusherClient(app.key, {
    cluster: 'mt1',
    wsHost: HOST,
    wsPort: srv.port,
    wssPort: srv.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: {
      customHandler: (params, cb) => {
        try {
          if (opts.authorize) return cb(null, opts.authorize(params, sdk));
          const { socketId, channelName } = params;
          let data;
          if (channelName.startsWith('presence-')) {
            data = typeof opts.presence === 'function' ? opts.presence(channelName) : opts.presence;
          }
          return cb(null, sdk.authorizeChannel(socketId, channelName, data));
        } catch (e) {
          return cb(e, null);
        }
      },
    },
    userAuthentication: {
      customHandler: (params, cb) => {
        try {
          return cb(null, sdk.authenticateUser(params.socketId, opts.user || { id: 'anonymous' }));
        } catch (e) {
          return cb(e, null);
        }
      },
    },
    ...(opts.pusherOptions || {}),
  });
  client.__sdk = sdk;
  return client;
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

function connected(client, ms = 8000) {
  if (client.connection.state === 'connected') return Promise.resolve(client.connection.socket_id);
  return withTimeout(new Promise((resolve, reject) => {
    const onChange = ({ current }) => {
      if (current === 'connected') { client.connection.unbind('state_change', onChange); resolve(client.connection.socket_id); }
      if (current === 'failed') { client.connection.unbind('state_change', onChange); reject(new Error('pusher-js state failed')); }
    };
    client.connection.bind('state_change', onChange);
  }), ms, 'pusher-js connected');
}

/** Subscribes and resolves with the subscription_succeeded data; rejects on subscription_error. */
function subscribe(client, name, ms = 8000) {
  const ch = client.subscribe(name);
  return withTimeout(new Promise((resolve, reject) => {
    const okCb = (data) => { cleanup(); resolve({ channel: ch, data }); };
    const errCb = (err) => { cleanup(); reject(Object.assign(new Error(`subscription_error on ${name}: ${JSON.stringify(err)}`), { data: err })); };
    const cleanup = () => { ch.unbind('pusher:subscription_succeeded', okCb); ch.unbind('pusher:subscription_error', errCb); };
    ch.bind('pusher:subscription_succeeded', okCb);
    ch.bind('pusher:subscription_error', errCb);
  }), ms, `subscribe ${name}`);
}

/** Subscribes expecting failure; resolves with the subscription_error data. */
function subscribeError(client, name, ms = 8000) {
  const ch = client.subscribe(name);
  return withTimeout(new Promise((resolve, reject) => {
    const okCb = () => { cleanup(); reject(new Error(`expected subscription_error on ${name}, got subscription_succeeded`)); };
    const errCb = (err) => { cleanup(); resolve(err); };
    const cleanup = () => { ch.unbind('pusher:subscription_succeeded', okCb); ch.unbind('pusher:subscription_error', errCb); };
    ch.bind('pusher:subscription_succeeded', okCb);
    ch.bind('pusher:subscription_error', errCb);
  }), ms, `subscription_error ${name}`);
}

/** Records every event on a channel object: returns {events: [{event, data, metadata}], wait(pred, ms)} */
function recorder(channel) {
  const events = [];
  const waiters = [];
  channel.bind_global((event, data, metadata) => {
    const rec = { event, data, metadata };
    events.push(rec);
    for (const w of [...waiters]) if (w.pred(rec)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(rec); }
  });
  return {
    events,
    named: (name) => events.filter((e) => e.event === name),
    wait(pred, ms = 5000, what = 'event') {
      const p = typeof pred === 'string' ? ((e) => e.event === pred) : pred;
      const hit = events.find(p);
      if (hit) return Promise.resolve(hit);
      return withTimeout(new Promise((resolve) => waiters.push({ pred: p, resolve })), ms, what);
    },
  };
}

function disconnectAll(...clients) {
  for (const c of clients) {
    try { c.disconnect(); } catch (_) { /* ignore */ }
  }
}

// ------------------------------------------------------------------------------------------------
// Raw ws clients

/**
 * A real HTTP receiver for webhooks on 127.0.0.1 (a free port unless given). Records every
 * request ({path, method, headers, rawBody, status, at}); statusFor(req) picks the answer (200
 * unless changed). listen: false starts it later (r.listen()), so a sender first finds it down.
 *   url(p = '/hook')          the address to configure
 *   ok(p)                     requests answered 2xx (on path p, or on any path)
 *   events(p)                 their events, in arrival order
 *   timed(p)                  the same, each with the arrival time of its request (at)
 *   of(name, channel, user)   timed events of that name and channel (and user_id, if given)
 *   about(channel)            the timed events of a channel as JSON, for assertion messages
 */
async function webhookReceiver({ port, listen = true } = {}) {
  const r = {
    port: port || (await freePort()),
    reqs: [],
    statusFor: () => 200,
    server: null,
    url(p = '/hook') { return `http://${HOST}:${this.port}${p}`; },
    async listen() {
      this.server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const status = this.statusFor(req);
          this.reqs.push({ path: req.url, method: req.method, headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8'), status, at: Date.now() });
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(status < 300 ? 'ok' : 'try again');
        });
      });
      await new Promise((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.port, HOST, resolve);
      });
    },
    async close() {
      if (!this.server) return;
      const s = this.server;
      this.server = null;
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    },
    ok(p) { return this.reqs.filter((q) => (p === undefined || q.path === p) && q.status < 300); },
    events(p) { return this.ok(p).flatMap((q) => JSON.parse(q.rawBody).events); },
    timed(p) { return this.ok(p).flatMap((q) => JSON.parse(q.rawBody).events.map((e) => ({ ...e, at: q.at }))); },
    of(name, channel, user) {
      return this.timed().filter((e) => e.name === name && e.channel === channel && (user === undefined || e.user_id === user));
    },
    about(channel) { return JSON.stringify(this.timed().filter((e) => e.channel === channel)); },
  };
  if (listen) await r.listen();
  return r;
}

class RawClient {
  constructor(ws) {
    this.ws = ws;
    this.history = []; // every frame received: {json, text, binary}
    this.queue = []; // unconsumed frames
    this.waiters = [];
    this.closeInfo = null;
    this.socketId = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
        for (const w of this.waiters.splice(0)) w.onClose(this.closeInfo);
      });
    });
    ws.on('error', () => { /* surfaced through close */ });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString('utf8');
      let json;
      if (!isBinary) {
        try { json = JSON.parse(text); } catch (_) { json = { __unparsable: text }; }
      }
      const frame = isBinary ? { __binary: true, bytes: data } : json;
      frame.__text = text;
      this.history.push(frame);
      for (const w of this.waiters) {
        if (w.pred(frame)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(frame);
          return;
        }
      }
      this.queue.push(frame);
    });
  }

  /** Waits for (and consumes) the first unconsumed frame matching pred (a function or event name). */
  next(pred = () => true, timeoutMs = 5000) {
    const p = typeof pred === 'string' ? ((f) => f.event === pred) : pred;
    const i = this.queue.findIndex(p);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.closeInfo) return Promise.reject(new Error(`socket already closed (${JSON.stringify(this.closeInfo)}) while waiting for frame; history: ${this.historyText()}`));
    return new Promise((resolve, reject) => {
      const w = {
        pred: p,
        resolve: (f) => { clearTimeout(w.t); resolve(f); },
        onClose: (ci) => { clearTimeout(w.t); reject(new Error(`socket closed ${JSON.stringify(ci)} while waiting for frame; history: ${this.historyText()}`)); },
      };
      w.t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; history: ${this.historyText()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Resolves true if no frame matching pred arrives (or is queued) within ms. Does not consume. */
  async none(pred, ms = 500) {
    const p = typeof pred === 'string' ? ((f) => f.event === pred) : pred;
    const start = this.history.length;
    if (this.queue.some(p)) return false;
    await sleep(ms);
    return !this.history.slice(start).some(p);
  }

  all(pred) {
    const p = typeof pred === 'string' ? ((f) => f.event === pred) : pred;
    return this.history.filter(p);
  }

  historyText(n = 10) {
    const short = (t) => (t.length > 300 ? `${t.slice(0, 300)}...(${t.length} chars)` : t);
    return JSON.stringify(this.history.slice(-n).map((f) => (f.__binary ? '<binary>' : short(f.__text))));
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  sendRaw(data, options) {
    return new Promise((resolve, reject) => this.ws.send(data, options || {}, (err) => (err ? reject(err) : resolve())));
  }

  async ping(timeoutMs = 3000) {
    this.send({ event: 'pusher:ping', data: {} });
    return this.next('pusher:pong', timeoutMs);
  }

  async subscribe(channel, extra = {}, timeoutMs = 5000) {
    this.send({ event: 'pusher:subscribe', data: { auth: '', channel, ...extra } });
    return this.next((f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'), timeoutMs);
  }

  /** Subscribes with a correct signature from sdk (presence data optional). */
  async subscribeSigned(channel, sdk, presenceData, timeoutMs = 5000) {
    const auth = sdk.authorizeChannel(this.socketId, channel, presenceData);
    const extra = { auth: auth.auth };
    if (auth.channel_data !== undefined) extra.channel_data = auth.channel_data;
    return this.subscribe(channel, extra, timeoutMs);
  }

  unsubscribe(channel) {
    this.send({ event: 'pusher:unsubscribe', data: { channel } });
  }

  waitClose(timeoutMs = 5000) {
    return withTimeout(this.closed, timeoutMs, `close; history: ${this.historyText()}`);
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  close() {
    try { this.ws.close(); } catch (_) { /* ignore */ }
  }

  terminate() {
    try { this.ws.terminate(); } catch (_) { /* ignore */ }
  }
}

function wsUrl(srv, { key, path: p, query } = {}) {
  const k = key !== undefined ? key : srv.app.key;
  const q = query !== undefined ? query : 'protocol=7&client=js&version=8.6.0&flash=false';
  const pathname = p !== undefined ? p : `/app/${k}`;
  return `ws://${HOST}:${srv.port}${pathname}${q ? `?${q}` : ''}`;
}

/**
 * Opens a raw ws client. By default waits for connection_established and records socketId.
 * opts: key, path, query, established (default true), maxPayload, headers (extra upgrade headers),
 * url (whole URL, e.g. wss://...), wsOptions (extra `ws` client options, e.g. {ca}).
 */
async function rawConnect(srv, opts = {}) {
  const url = opts.url || wsUrl(srv, opts);
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    handshakeTimeout: 5000,
    maxPayload: opts.maxPayload || 100 * 1024 * 1024,
    ...(opts.headers ? { headers: opts.headers } : {}), // e.g. {'X-Forwarded-For': '10.0.0.1'}
    ...(opts.wsOptions || {}), // e.g. {ca} for a wss:// opts.url
  });
  const client = new RawClient(ws);
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode} on upgrade ${url}`)));
    ws.once('error', reject);
  }), 5000, `ws open ${url}`);
  if (opts.established !== false) {
    const f = await client.next(() => true, 5000);
    assert.equal(f.event, 'pusher:connection_established', `first frame must be connection_established, got ${f.__text}`);
    client.established = JSON.parse(f.data);
    client.socketId = client.established.socket_id;
  }
  return client;
}

/** Parses a JSON-string data member (double encoding), asserting it is a string. */
function decodeData(frame) {
  assert.equal(typeof frame.data, 'string', `data of ${frame.event} must be a JSON string, got ${frame.__text}`);
  return JSON.parse(frame.data);
}

async function eventually(fn, { timeoutMs = 5000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(intervalMs);
  }
}

module.exports = {
  ROOT,
  BIN,
  HOST,
  sleep,
  freePort,
  freePorts,
  tcpAccepts,
  makeApp,
  binExists,
  spawnBinary,
  runBinary,
  writeConfig,
  waitReady,
  Server,
  startServer,
  useServer,
  checkResponse,
  sdkClient,
  sdkCall,
  rest,
  ok,
  signedRequest,
  httpGet,
  pusherClient,
  connected,
  subscribe,
  subscribeError,
  recorder,
  disconnectAll,
  RawClient,
  webhookReceiver,
  rawConnect,
  wsUrl,
  decodeData,
  eventually,
  withTimeout,
};
