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

  it('the same values with one bad one changed back render', async () => {
    // Guards the table: the refusals above come from the bad value, not from the file's shape.
    const res = await helm(templateArgs({ valuesFiles: [join(badValuesDir, 'bad-replicas-string.yaml')], set: ['controlPlane.replicas=3'] }));
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});
