'use strict';
// Gateway-side encryption (app option encryption_master_key_base64, spec 6.3 / 4.14): plaintext
// REST events to private-encrypted- channels are encrypted by the gateway with the per-channel
// key SHA-256(channel || master key); envelopes made by an SDK that has the key pass untouched.
// pusher-js is authorized by an SDK that HAS the key (shared_secret in the auth response).

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const nacl = require('tweetnacl');

const h = require('./helpers');

const MASTER = crypto.randomBytes(32).toString('base64');

function channelKey(channel, masterB64 = MASTER) {
  return crypto.createHash('sha256').update(Buffer.concat([Buffer.from(channel, 'utf8'), Buffer.from(masterB64, 'base64')])).digest();
}

/** Opens an envelope string {"nonce","ciphertext"} with the channel key; returns the plaintext string. */
function openEnvelope(dataString, channel, masterB64 = MASTER) {
  const env = JSON.parse(dataString);
  assert.deepEqual(Object.keys(env).sort(), ['ciphertext', 'nonce'], `envelope members: ${dataString}`);
  const nonce = Buffer.from(env.nonce, 'base64');
  assert.equal(nonce.length, 24, 'nonce is 24 bytes');
  const box = Buffer.from(env.ciphertext, 'base64');
  const plain = nacl.secretbox.open(new Uint8Array(box), new Uint8Array(nonce), new Uint8Array(channelKey(channel, masterB64)));
  assert.ok(plain, 'the envelope opens with the channel key');
  return { plain: Buffer.from(plain).toString('utf8'), nonce: env.nonce };
}

function makeEnvelope(plainString, channel, nonce = crypto.randomBytes(24)) {
  const box = nacl.secretbox(new Uint8Array(Buffer.from(plainString, 'utf8')), new Uint8Array(nonce), new Uint8Array(channelKey(channel)));
  return JSON.stringify({ nonce: Buffer.from(nonce).toString('base64'), ciphertext: Buffer.from(box).toString('base64') });
}

describe('gateway-side encryption', () => {
  let srv;
  const apps = {
    enc: h.makeApp({ encryption_master_key_base64: MASTER }),
    noKey: h.makeApp({}),
  };
  const open = [];
  let seq = 0;
  const name = (prefix = 'private-encrypted-') => `${prefix}e${++seq}`;
  const raw = async (app) => { const c = await h.rawConnect(srv, { key: app.key }); open.push(c); return c; };
  let keyed; // SDK with the master key: signs auth (with shared_secret) and encrypts itself
  let plainSdk; // SDK without the key: sends plaintext
  const pjs = () => { const c = h.pusherClient(srv, { app: apps.enc, sdk: keyed }); open.push(c); return c; };
  // pusher-http-node refuses sdk.trigger() to an encrypted channel without a key, so a keyless
  // SDK publishes plaintext through its generic signed sdk.post() (same signing, same body shape).
  const plainTrigger = (sdk, ch, event, data) => h.rest.post(sdk, '/events', { name: event, data: JSON.stringify(data), channels: [ch] });
  const signedEvents = (app, body) => h.signedRequest(srv, { app, method: 'POST', path: `/apps/${app.id}/events`, body });

  before(async () => {
    srv = await h.startServer({ apps: Object.values(apps) });
    keyed = h.sdkClient(srv, apps.enc, { encryptionMasterKeyBase64: MASTER });
    plainSdk = h.sdkClient(srv, apps.enc);
  });
  after(async () => {
    for (const c of open) {
      if (c.ws) c.terminate(); else h.disconnectAll(c);
    }
    if (srv) await srv.stop();
  });

  async function subscribers(ch) {
    const c = pjs();
    const { channel } = await h.subscribe(c, ch);
    const rec = h.recorder(channel);
    const r = await raw(apps.enc);
    assert.equal((await r.subscribeSigned(ch, keyed)).event, 'pusher_internal:subscription_succeeded');
    return { rec, r };
  }

  test('plaintext from an SDK without the key is encrypted by the gateway; pusher-js decrypts it', async () => {
    const ch = name();
    const { rec, r } = await subscribers(ch);
    const data = { message: 'top secret', n: 42, nested: { ok: true } };
    const res = await plainTrigger(plainSdk, ch, 'secret', data);
    assert.equal(res.status, 200, res.text);
    const got = await rec.wait('secret', 3000);
    assert.deepEqual(got.data, data, 'pusher-js decrypted the original data');
    const f = await r.next('secret', 3000);
    assert.equal(typeof f.data, 'string');
    assert.ok(!f.data.includes('top secret'), `only ciphertext on the wire: ${f.data}`);
    const { plain } = openEnvelope(f.data, ch);
    assert.equal(plain, JSON.stringify(data), 'the envelope holds the REST data string byte for byte');
  });

  test('raw signed request with a plaintext (non-JSON) string; every event gets a fresh nonce', async () => {
    const ch = name();
    const { rec, r } = await subscribers(ch);
    for (const i of [1, 2]) {
      const res = await signedEvents(apps.enc, { name: 'txt', data: `hello plain text ${i}`, channels: [ch] });
      assert.equal(res.status, 200, res.text);
    }
    await h.eventually(() => rec.named('txt').length === 2, { timeoutMs: 3000, what: 'pusher-js got both' });
    assert.deepEqual(rec.named('txt').map((e) => e.data), ['hello plain text 1', 'hello plain text 2']);
    const f1 = await r.next('txt', 3000);
    const f2 = await r.next('txt', 3000);
    const e1 = openEnvelope(f1.data, ch);
    const e2 = openEnvelope(f2.data, ch);
    assert.equal(e1.plain, 'hello plain text 1');
    assert.equal(e2.plain, 'hello plain text 2');
    assert.notEqual(e1.nonce, e2.nonce, 'a fresh nonce per event');
  });

  test('an envelope made by an SDK with the key passes untouched (and decrypts)', async () => {
    const ch = name();
    const { rec, r } = await subscribers(ch);
    const res = await h.rest.trigger(keyed, ch, 'pre', { already: 'encrypted' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await rec.wait('pre', 3000)).data, { already: 'encrypted' });
    const f = await r.next('pre', 3000);
    assert.equal(openEnvelope(f.data, ch).plain, '{"already":"encrypted"}', 'encrypted once, not twice');
    // byte-for-byte: a hand-made envelope is relayed unchanged
    const env = makeEnvelope('{"hand":"made"}', ch);
    const res2 = await signedEvents(apps.enc, { name: 'hand', data: env, channels: [ch] });
    assert.equal(res2.status, 200, res2.text);
    assert.equal((await r.next('hand', 3000)).data, env, 'relayed untouched');
    assert.deepEqual((await rec.wait('hand', 3000)).data, { hand: 'made' });
  });

  test('batch with plaintext for an encrypted channel is encrypted too', async () => {
    const ch = name();
    const { rec, r } = await subscribers(ch);
    const res = await h.rest.post(plainSdk, '/batch_events', { batch: [
      { channel: ch, name: 'b1', data: '{"k":"v"}' },
      { channel: 'public-next-to-it', name: 'b2', data: 'clear' },
    ] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await rec.wait('b1', 3000)).data, { k: 'v' });
    assert.equal(openEnvelope((await r.next('b1', 3000)).data, ch).plain, '{"k":"v"}');
  });

  test('multi-channel trigger including an encrypted channel -> 400, nothing delivered', async () => {
    const ch = name();
    const { rec, r } = await subscribers(ch);
    const other = await raw(apps.enc);
    await other.subscribe('public-multi');
    const res = await signedEvents(apps.enc, { name: 'multi', data: '{"x":1}', channels: [ch, 'public-multi'] });
    assert.equal(res.status, 400, res.text);
    const res2 = await signedEvents(apps.enc, { name: 'multi', data: makeEnvelope('{"x":1}', ch), channels: [ch, 'public-multi'] });
    assert.equal(res2.status, 400, res2.text);
    await h.sleep(300);
    assert.equal(rec.named('multi').length, 0);
    assert.ok(await r.none('multi', 10));
    assert.ok(await other.none('multi', 10));
  });

  test('encrypted cache channel: the replayed event is the encrypted one and pusher-js decrypts it', async () => {
    const ch = name('private-encrypted-cache-');
    await h.ok(plainTrigger(plainSdk, ch, 'cached', { where: 'cache' }));
    const info = await h.ok(h.rest.get(plainSdk, `/channels/${ch}`, { info: 'cache' }));
    assert.ok(info.cache && typeof info.cache.data === 'string', JSON.stringify(info));
    assert.ok(!info.cache.data.includes('where'), `the cache holds ciphertext: ${info.cache.data}`);
    assert.equal(openEnvelope(info.cache.data, ch).plain, '{"where":"cache"}');
    const c = pjs();
    const channel = c.subscribe(ch);
    const rec = h.recorder(channel);
    assert.deepEqual((await rec.wait('cached', 5000)).data, { where: 'cache' });
  });

  test('an SDK with a different master key cannot read the events (pusher-js drops them)', async () => {
    const ch = name();
    const wrongMaster = crypto.randomBytes(32).toString('base64');
    const wrongSdk = h.sdkClient(srv, apps.enc, { encryptionMasterKeyBase64: wrongMaster });
    const c = h.pusherClient(srv, { app: apps.enc, sdk: wrongSdk });
    open.push(c);
    const { channel } = await h.subscribe(c, ch);
    const rec = h.recorder(channel);
    const good = pjs();
    const goodRec = h.recorder((await h.subscribe(good, ch)).channel);
    await h.ok(plainTrigger(plainSdk, ch, 'hidden', { s: 1 }));
    await goodRec.wait('hidden', 3000);
    await h.sleep(300);
    assert.equal(rec.named('hidden').length, 0, 'not decryptable with another key');
  });

  describe('app without encryption_master_key_base64', () => {
    test('plaintext to an encrypted channel -> 400; an envelope -> 200 and relayed untouched', async () => {
      const app = apps.noKey;
      const ch = name();
      const sdk = h.sdkClient(srv, app, { encryptionMasterKeyBase64: MASTER });
      const r = await h.rawConnect(srv, { key: app.key });
      open.push(r);
      await r.subscribeSigned(ch, sdk);
      const res = await signedEvents(app, { name: 'plain', data: '{"message":"hello"}', channels: [ch] });
      assert.equal(res.status, 400, res.text);
      const viaSdk = await plainTrigger(h.sdkClient(srv, app), ch, 'plain', { message: 'hello' });
      assert.equal(viaSdk.status, 400, viaSdk.text);
      assert.ok(await r.none('plain', 300));
      const env = makeEnvelope('{"ok":1}', ch);
      const res2 = await signedEvents(app, { name: 'env', data: env, channels: [ch] });
      assert.equal(res2.status, 200, res2.text);
      assert.equal((await r.next('env', 3000)).data, env);
    });
  });
});
