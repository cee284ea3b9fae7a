// Child process of bench/heartbeat.ts: simulates many nodes' heartbeats over a few NATS
// connections, one round (every node once) per credit the benchmark grants, so the backlog
// stays bounded whatever the ingestion speed. It speaks for every node over shared connections,
// so on a secure server it runs with an administrator's credentials (a load tool, not a node).
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { encode, Heartbeat, subjects, type Heartbeat as HeartbeatT } from '@edgeplane/api';

// Credentials and CA files are '-' for a server without authentication and TLS.
const [natsUrl = '', nodesArg = '10000', connsArg = '4', prefix = 'bench', credsFile = '-', caFile = '-'] = process.argv.slice(2);
const nodes = Number(nodesArg);
const security = {
  ...(credsFile !== '-' ? { authenticator: credsAuthenticator(readFileSync(credsFile)) } : {}),
  ...(caFile !== '-' ? { tls: { ca: readFileSync(caFile, 'utf8') } } : {}),
};
const conns: NatsConnection[] = [];
for (let i = 0; i < Number(connsArg); i++) conns.push(await connect({ servers: natsUrl, name: `bench-publisher-${i}`, ...security }));
const control = conns[0]!;
const names = Array.from({ length: nodes }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`);
const subjectsOf = names.map((n) => subjects.status(n));

/** Mostly idle deltas; every 12th is full; a few carry load, as a quiet fleet sends. */
function heartbeat(node: number, seq: number): HeartbeatT {
  const hb: HeartbeatT = { v: 1, seq };
  if (seq % 12 === 0) {
    hb.full = true;
    hb.power = { source: 'battery', batteryPercent: 40 + (node % 60), charging: false };
    hb.network = { type: node % 3 === 0 ? 'cellular-4g' : 'wifi', bandwidthMbps: 20 };
    hb.load = [{ id: 'gpu0', util: 0.3, queue: 0 }];
    hb.workloads = [{ key: 'bench/det', variant: 'det-fp16', accelerator: 'gpu0', phase: 'Ready', p99Ms: 7 }];
  } else if ((node + seq) % 20 === 0) {
    hb.load = [{ id: 'gpu0', util: ((node + seq) % 100) / 100, queue: 1 }];
  }
  return hb;
}

let round = 0;
let sent = 0;
const done = new Promise<void>((resolve) => {
  control.subscribe('bench.heartbeat.stop', { callback: () => resolve() });
});
control.subscribe('bench.heartbeat.credit', {
  callback: () => {
    const r = ++round;
    for (let i = 0; i < nodes; i++) {
      conns[i % conns.length]!.publish(subjectsOf[i]!, encode(Heartbeat, 'heartbeat', heartbeat(i, r)));
    }
    sent += nodes;
  },
});
await control.flush();
control.publish('bench.heartbeat.ready');
await done;
await Promise.all(conns.map((c) => c.flush()));
process.stdout.write(`${JSON.stringify({ sent, rounds: round })}\n`);
await Promise.all(conns.map((c) => c.close()));
process.exit(0);
