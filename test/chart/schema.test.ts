// Bad values are refused by helm before anything reaches the cluster, and the message names
// the value: values.schema.json for types, enums, patterns and unknown keys; the chart's own
// check for rules across two values.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { badValuesDir, helm, templateArgs } from './helm.ts';

const rows: { file: string; names: string; detail: string }[] = [
  { file: 'bad-replicas-string.yaml', names: "'/controlPlane/replicas'", detail: 'want integer' },
  { file: 'bad-pull-policy.yaml', names: "'/controlPlane/image/pullPolicy'", detail: 'IfNotPresent' },
  { file: 'bad-nats-url-scheme.yaml', names: "'/nats/url'", detail: 'does not match pattern' },
  { file: 'bad-redis-url-credentials.yaml', names: "'/redis/url'", detail: 'does not match pattern' },
  { file: 'bad-log-level.yaml', names: "'/controlPlane/logLevel'", detail: 'value must be one of' },
  { file: 'bad-metrics-auth.yaml', names: "'/controlPlane/metricsAuth'", detail: 'value must be one of' },
  { file: 'bad-unknown-key.yaml', names: "'/controlPlane'", detail: "'replica' not allowed" },
  { file: 'bad-root-user.yaml', names: "'/controlPlane/runAsUser'", detail: 'minimum' },
  { file: 'bad-agent-cache-size.yaml', names: "'/agent/cacheMax'", detail: 'does not match pattern' },
  { file: 'bad-agent-no-node-selector.yaml', names: "'/agent/nodeSelector'", detail: 'minProperties' },
  { file: 'bad-memory-limit.yaml', names: "'/controlPlane/resources/limits/memory'", detail: 'does not match pattern' },
  { file: 'bad-lease-timings.yaml', names: 'controlPlane.leaderElection.renewDeadlineMs (15000)', detail: 'must be less than controlPlane.leaderElection.leaseDurationMs (10000)' },
  // The secure setup: formats in the schema, what must go together in the chart's own check.
  { file: 'bad-ca-hash.yaml', names: "'/agent/caHash'", detail: 'does not match pattern' },
  { file: 'bad-node-credential-ttl.yaml', names: "'/controlPlane/nodeCredentialTtl'", detail: 'does not match pattern' },
  { file: 'bad-nats-insecure-string.yaml', names: "'/nats/insecure'", detail: 'want boolean' },
  { file: 'bad-kv-replicas.yaml', names: "'/nats/kvReplicas'", detail: 'maximum' },
  { file: 'bad-cert-manager-no-issuer.yaml', names: "'/tls/certManager/issuerRef/name'", detail: 'minLength' },
  { file: 'bad-agent-shared-creds.yaml', names: "'/agent'", detail: "'natsCredsSecret' not allowed" },
  { file: 'bad-no-trust-secret.yaml', names: 'trust.existingSecret', detail: 'unless nats.insecure is true' },
  { file: 'bad-plain-nats-url.yaml', names: 'nats.url (nats://nats.nats.svc.cluster.local:4222)', detail: 'must be tls:// or wss://' },
  { file: 'bad-agent-no-ca.yaml', names: 'agent.caHash', detail: 'must pin the fleet CA' },
  { file: 'bad-model-trust-no-keys.yaml', names: 'agent.modelTrust.publicKeysSecret', detail: 'while agent.modelTrust.requireSignature is true' },
];

describe('bad values', () => {
  it('every file under test/chart/values has a row here', () => {
    expect(readdirSync(badValuesDir).filter((f) => f.endsWith('.yaml')).sort()).toEqual(rows.map((r) => r.file).sort());
    expect(rows.length).toBeGreaterThanOrEqual(5);
  });

  it.each(rows)('$file is refused naming $names', async ({ file, names, detail }) => {
    const res = await helm(templateArgs({ valuesFiles: [join(badValuesDir, file)] }));
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(names);
    expect(res.stderr).toContain(detail);
  });

  it.each([
    { file: 'bad-replicas-string.yaml', set: ['controlPlane.replicas=3'] },
    { file: 'bad-plain-nats-url.yaml', set: ['nats.insecure=true'] },
    { file: 'bad-agent-no-ca.yaml', set: [`agent.caHash=sha256:${'ab'.repeat(32)}`] },
    { file: 'bad-cert-manager-no-issuer.yaml', set: ['tls.certManager.issuerRef.name=edgeplane-ca'] },
  ])('$file renders with the bad value changed back ($set)', async ({ file, set }) => {
    // Guards the table: the refusals above come from the bad value, not from the file's shape.
    const res = await helm(templateArgs({ valuesFiles: [join(badValuesDir, file)], set }));
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});
