// The local test environment: real nats-server, redis-server, etcd and kube-apiserver on
// loopback, used by vitest's globalSetup, the benchmarks and `make up`.
export { startNats, type NatsServer, type NatsOptions } from './nats.ts';
export { startRedis, type RedisServer } from './redis.ts';
export { startKube, type KubeServer, type KubeAccess, type KubeOptions } from './kube.ts';
export { installCrds, kubeConfig, readCrds, repoRoot, crdDir } from './crds.ts';
export { serverVersions, goBinary, redisBinary, binDir, cacheDir } from './binaries.ts';
export { freePort } from './ports.ts';
