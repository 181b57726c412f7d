'use strict';
// Debug console (debug_console): GET /console, the signed state API, the "#debug" stream, and the
// page itself in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; that part
// is skipped only when the binary is absent). A screenshot goes to build/artifacts/console.png.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const h = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const SHOT = path.join(h.ROOT, 'build', 'artifacts', 'console.png');

function get(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: h.HOST, port, path: p, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`timeout GET ${p}`)));
    req.on('error', reject);
  });
}

const debugAuth = (app, socketId) => `${app.key}:${crypto.createHmac('sha256', app.secret).update(`${socketId}:#debug`).digest('hex')}`;
const debugData = (f) => JSON.parse(f.data);
const isDebug = (pred) => (f) => f.event === 'pushgate:debug' && pred(debugData(f));

describe('debug console off (default)', () => {
  let srv;
  before(async () => { srv = await h.startServer(); });
  after(() => srv && srv.stop());

  test('GET /console and the state API are 404', async () => {
    const page = await get(srv.apiPort, '/console');
    assert.equal(page.status, 404);
    const st = await h.signedRequest(srv, { method: 'GET', path: `/apps/${srv.app.id}/console/state` });
    assert.equal(st.status, 404, st.text);
  });

  test('#debug is refused even with the right signature', async () => {
    const rc = await h.rawConnect(srv);
    try {
      const f = await rc.subscribe('#debug', { auth: debugAuth(srv.app, rc.socketId) });
      assert.equal(f.event, 'pusher:subscription_error', f.__text);
      assert.equal(f.data.type, 'AuthError');
      assert.equal(f.data.status, 403);
    } finally {
      rc.close();
    }
  });
});

describe('debug console on', () => {
  let srv;
  let sdk;
  const open = [];
  before(async () => {
    srv = await h.startServer({ config: { debug_console: true } });
    sdk = h.sdkClient(srv);
  });
  after(async () => {
    for (const c of open) {
      if (c.ws) c.close(); else h.disconnectAll(c);
    }
    if (srv) await srv.stop();
  });
  const pjs = (opts) => { const c = h.pusherClient(srv, { sdk, ...opts }); open.push(c); return c; };
  const raw = async (opts) => { const c = await h.rawConnect(srv, opts); open.push(c); return c; };
  const state = (opts = {}) => h.signedRequest(srv, { method: 'GET', path: `/apps/${srv.app.id}/console/state`, ...opts });

  let plain; // pusher-js on my-channel
  let plainChannel;
  let member; // pusher-js on presence-room as alice

  test('GET /console serves the self-contained page with strict headers', async () => {
    const r = await get(srv.apiPort, '/console');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-store');
    const csp = r.headers['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'unsafe-inline'/);
    assert.ok(csp.includes(`connect-src 'self' ws://${h.HOST}:${srv.port} wss://${h.HOST}:${srv.port}`), csp);
    assert.match(r.text, /<title>pushgate debug console<\/title>/);
    assert.ok(!/<script[^>]+src=|<link[^>]+stylesheet|(src|href|action)\s*=\s*["']?(https?:)?\/\//i.test(r.text),
      'the page loads nothing from elsewhere');
    const post = await new Promise((resolve, reject) => {
      const req = http.request({ host: h.HOST, port: srv.apiPort, path: '/console', method: 'POST', agent: false }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(post, 405);
  });

  test('the state API needs a valid signature', async () => {
    const unsigned = await get(srv.apiPort, `/apps/${srv.app.id}/console/state`);
    assert.equal(unsigned.status, 401, unsigned.text);
    const wrong = await state({ secret: 'not-the-secret' });
    assert.equal(wrong.status, 401, wrong.text);
    const other = await state({ path: '/apps/no-such-app/console/state' });
    assert.equal(other.status, 404, other.text);
  });

  test('the state API counts connections, channels and presence members', async () => {
    plain = pjs();
    plainChannel = (await h.subscribe(plain, 'my-channel')).channel;
    member = pjs({ presence: { user_id: 'alice', user_info: { name: 'Alice' } } });
    await h.subscribe(member, 'presence-room');
    const st = await h.eventually(async () => {
      const r = await state();
      assert.equal(r.status, 200, r.text);
      return r.body.connections === 2 && r.body.channels.length === 2 ? r.body : null;
    }, { what: 'two connections and two channels in console/state' });
    assert.equal(st.key, srv.app.key);
    assert.equal(st.ws_port, srv.port);
    assert.deepEqual(st.channels, [
      { name: 'my-channel', subscription_count: 1, user_count: 0, users: [] },
      { name: 'presence-room', subscription_count: 1, user_count: 1, users: ['alice'] },
    ]);
  });

  test('#debug: a wrong signature is an AuthError, the right one streams the app\'s events', async () => {
    const bad = await raw();
    const f = await bad.subscribe('#debug', { auth: `${srv.app.key}:${'0'.repeat(64)}` });
    assert.equal(f.event, 'pusher:subscription_error', f.__text);
    assert.equal(f.data.type, 'AuthError');
    assert.equal(f.data.status, 401);
    assert.ok(await bad.none(isDebug(() => true), 300), 'no debug event without the subscription');

    const con = await raw();
    const ok = await con.subscribe('#debug', { auth: debugAuth(srv.app, con.socketId) });
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded', ok.__text);

    // A REST trigger (also to an internal channel, which is not shown).
    await h.ok(h.rest.trigger(sdk, ['my-channel', 'nobody-here'], 'e2e-event', { n: 1 }));
    const api = debugData(await con.next(isDebug((d) => d.type === 'api_message' && d.event === 'e2e-event')));
    assert.deepEqual(api.channels, ['my-channel', 'nobody-here']);
    assert.equal(api.data, JSON.stringify({ n: 1 }));
    assert.equal(typeof api.time, 'number');

    // Connections, subscriptions, presence members and client events.
    const bob = pjs({ presence: { user_id: 'bob' } });
    const bobSid = await h.connected(bob);
    const { channel: room } = await h.subscribe(bob, 'presence-room');
    await con.next(isDebug((d) => d.type === 'connected' && d.socket_id === bobSid));
    await con.next(isDebug((d) => d.type === 'subscribed' && d.socket_id === bobSid && d.channel === 'presence-room'));
    await con.next(isDebug((d) => d.type === 'member_added' && d.user_id === 'bob'));
    room.trigger('client-typing', { who: 'bob' });
    const ce = debugData(await con.next(isDebug((d) => d.type === 'client_event')));
    assert.deepEqual(
      { channel: ce.channel, event: ce.event, socket_id: ce.socket_id, user_id: ce.user_id, data: JSON.parse(ce.data) },
      { channel: 'presence-room', event: 'client-typing', socket_id: bobSid, user_id: 'bob', data: { who: 'bob' } },
    );
    bob.disconnect();
    await con.next(isDebug((d) => d.type === 'member_removed' && d.user_id === 'bob'));
    await con.next(isDebug((d) => d.type === 'disconnected' && d.socket_id === bobSid));
    assert.equal(con.all(isDebug((d) => (d.channel || '').startsWith('#'))).length, 0, 'internal channels are never mirrored');
    con.close();
    bad.close();
    await h.eventually(async () => (await state()).body.connections === 2, { what: 'raw clients gone' });
  });

  test('the page in headless Chromium', async (t) => {
    if (!fs.existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} not found: install Debian's chromium package to run the browser test`);
      return;
    }
    const { chromium } = require('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' && !/favicon/.test(m.text())) problems.push(`console: ${m.text()}`); });

    await page.goto(`http://${h.HOST}:${srv.apiPort}/console`);
    assert.equal(await page.evaluate(() => window.pgMd5('{"name":"é"}')),
      crypto.createHash('md5').update('{"name":"é"}').digest('hex'), 'the page\'s MD5');
    await page.fill('#app-id', srv.app.id);
    await page.fill('#app-key', srv.app.key);
    await page.fill('#app-secret', 'wrong-secret');
    await page.click('#open');
    await page.locator('#login-error', { hasText: '401' }).waitFor({ timeout: 5000 });
    problems.length = 0; // Chromium logs that expected 401
    await page.fill('#app-secret', srv.app.secret);
    await page.click('#open');
    await page.waitForSelector('#status.live', { timeout: 10000 });
    // The two pusher-js clients and the page's own socket.
    await page.waitForFunction(() => document.getElementById('conn-count').textContent === '3', null, { timeout: 10000 });
    assert.equal(await page.inputValue('#app-secret'), '', 'the secret is not left in the form');
    await page.locator('#channel-list tr', { hasText: 'presence-room' }).waitFor({ timeout: 5000 });
    await page.locator('#presence li', { hasText: 'alice' }).waitFor({ timeout: 5000 });

    // A REST trigger through the SDK shows up in the event list.
    await h.ok(h.rest.trigger(sdk, 'my-channel', 'from-sdk', { hello: 'console' }));
    await page.locator('#event-list tr[data-type="api_message"]', { hasText: 'from-sdk' }).waitFor({ timeout: 5000 });

    // Live updates: a new presence member appears in the log and the member list.
    const carol = pjs({ presence: { user_id: 'carol' } });
    await h.subscribe(carol, 'presence-room');
    await page.locator('#event-list tr[data-type="member_added"]', { hasText: 'carol' }).waitFor({ timeout: 5000 });
    await page.locator('#presence li', { hasText: 'carol' }).waitFor({ timeout: 5000 });

    // The page's trigger form reaches a pusher-js subscriber.
    const rec = h.recorder(plainChannel);
    await page.fill('#trigger-channel', 'my-channel');
    await page.fill('#trigger-event', 'from-console');
    await page.fill('#trigger-data', '{"sent":"from the page","n":2}');
    await page.click('#trigger-send');
    const got = await rec.wait('from-console', 5000, 'from-console at pusher-js');
    assert.deepEqual(got.data, { sent: 'from the page', n: 2 });
    await page.waitForSelector('#trigger-result.ok', { timeout: 5000 });
    await page.locator('#event-list tr[data-type="api_message"]', { hasText: 'from-console' }).waitFor({ timeout: 5000 });
    const first = await page.locator('#event-list tr').first().textContent();
    assert.match(first, /from-console/, 'newest event first');

    fs.mkdirSync(path.dirname(SHOT), { recursive: true });
    await page.screenshot({ path: SHOT, fullPage: true });
    assert.deepEqual(problems, []);
  });
});
