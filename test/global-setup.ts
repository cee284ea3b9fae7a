// vitest globalSetup for the integration project: one etcd + kube-apiserver for the run,
// CRDs installed; test files reach it with inject('kube').
import type { TestProject } from 'vitest/node';
import { installCrds, serverVersions, startKube, type KubeAccess } from '@edgeplane/env';

declare module 'vitest' {
  export interface ProvidedContext {
    kube: KubeAccess;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const kube = await startKube();
  await installCrds(kube);
  const versions = serverVersions();
  console.log(
    `[env] kube-apiserver ${versions['kube-apiserver'] ?? '?'} + etcd ${versions.etcd ?? '?'} ready in ${Date.now() - started} ms; ` +
      `nats-server ${versions['nats-server'] ?? '?'}, redis-server ${versions['redis-server'] ?? '?'} per test file`,
  );
  project.provide('kube', { server: kube.server, token: kube.token, kubeconfigPath: kube.kubeconfigPath, kubeconfig: kube.kubeconfig });
  return async () => {
    await kube.stop();
  };
}
