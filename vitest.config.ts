import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{api,trust,control-plane,agent,cli,images,dashboard}/src/**/*.test.ts', '{,dashboard/}scripts/**/*.test.ts'],
          testTimeout: 20_000,
          // The integration project's count: the default on two cores is one, and a project of
          // one worker runs in a group of its own, one file at a time after every other file.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'env/go/**', 'test/cluster/**'],
          // One kube-apiserver + etcd for the whole run; each file starts its own NATS and Redis.
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // Two cores: more workers only slow the servers under test.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'cluster',
          // One file starts the single-node cluster (one runs per machine, docs/cluster.md) and
          // runs every cluster suite on it (pod.ts, chart.ts, agent.ts). With the integration
          // project's worker count it shares their group and, its project name sorting first,
          // starts first, beside them, instead of alone after them (fileParallelism: false
          // would put it in a group of its own at the end); a second file here would run beside
          // it and find the first one's lock.
          include: ['test/cluster/cluster.test.ts'],
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
