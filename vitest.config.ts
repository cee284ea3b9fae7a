import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{api,trust,control-plane,agent,cli,images,dashboard}/src/**/*.test.ts', '{,dashboard/}scripts/**/*.test.ts'],
          testTimeout: 20_000,
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
          // Each file starts a single-node cluster, and one runs per machine (docs/cluster.md):
          // one file at a time, or the second would find the first one's lock and skip.
          include: ['test/cluster/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
