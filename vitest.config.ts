import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{api,trust,control-plane,agent,cli,images,dashboard}/src/**/*.test.ts', 'scripts/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**', 'env/go/**'],
          // One kube-apiserver + etcd for the whole run; each file starts its own NATS and Redis.
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // Two cores: more workers only slow the servers under test.
          maxWorkers: 2,
        },
      },
    ],
  },
});
