// A test agent in a process of its own, so a fault test can stop it with real signals
// (SIGSTOP freezes it as a hung device would, SIGCONT thaws it). Settings come from the
// environment; it prints "ready" once its hello was accepted.
import { readFileSync } from 'node:fs';
import { credsAuthenticator } from '@nats-io/transport-node';
import { inboxPrefix } from '@edgeplane/trust';
import { TestAgent } from '../../helpers/agent.ts';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const node = env('EP_TEST_NODE');
const agent = await TestAgent.start({
  nats: {
    connectOptions: async () => ({
      servers: env('EP_TEST_NATS_URL'),
      tls: { ca: readFileSync(env('EP_TEST_NATS_CA'), 'utf8') },
      authenticator: credsAuthenticator(readFileSync(env('EP_TEST_NATS_CREDS'))),
      inboxPrefix: inboxPrefix.node(node),
    }),
  },
  node,
  accelerators: [{ id: 'gpu0', type: 'GPU', vendor: 'nvidia', model: 'test', memoryMiB: 8192, precisions: ['fp32', 'fp16', 'int8'], tops: { fp32: 10, fp16: 20, int8: 40 }, watts: 15 }],
  power: { source: 'mains' },
  network: { type: 'ethernet', bandwidthMbps: 1000 },
  labels: JSON.parse(env('EP_TEST_LABELS')) as Record<string, string>,
  loadMs: 100,
});
console.log('ready');
process.once('SIGTERM', () => {
  void agent.stop().finally(() => process.exit(0));
});
