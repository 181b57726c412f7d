// Quick start: receive an event with pusher-js, publish it with the Node server SDK.
// Run the gateway first (./run.sh), then: npm ci && node examples/quickstart.js
'use strict';
const Pusher = require('pusher-js'); // the official browser/Node client, unchanged
const PusherServer = require('pusher'); // the official server SDK, unchanged

const host = process.env.PUSHGATE_HOST || '127.0.0.1';

// The client side: point pusher-js at the gateway instead of Pusher's cluster.
const client = new Pusher('app-key', {
  cluster: 'mt1', // required by pusher-js, ignored when wsHost is set
  wsHost: host,
  wsPort: 6001,
  forceTLS: false,
  enabledTransports: ['ws'],
  disableStats: true,
});

// The server side: the SDK signs every request with the app secret.
const server = new PusherServer({
  appId: 'app-id',
  key: 'app-key',
  secret: 'app-secret',
  host,
  port: 6002,
  useTLS: false,
});

const channel = client.subscribe('my-channel');
channel.bind('pusher:subscription_succeeded', async () => {
  console.log('subscribed to my-channel; triggering my-event through the REST API');
  await server.trigger('my-channel', 'my-event', { message: 'hello world' });
});
channel.bind('my-event', (data) => {
  console.log('received my-event:', data);
  client.disconnect();
  process.exit(0);
});
setTimeout(() => {
  console.error('no event within 5 s: is the gateway running (./run.sh)?');
  process.exit(1);
}, 5000);
