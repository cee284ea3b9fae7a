// The local environment: real nats-server (JWT auth and TLS), redis-server, etcd and
// kube-apiserver on loopback, used by `make up`, vitest's globalSetup and the benchmarks.
export { startNats, type NatsServer, type NatsOptions } from './nats.ts';
export { credsFor, type NatsIdentity } from './nats-trust.ts';
export { startNatsCluster, JS_DOMAIN, type NatsCluster, type NatsClusterOptions, type NatsMember } from './nats-cluster.ts';
export { startRedis, type RedisServer, type RedisOptions } from './redis.ts';
export { startRedisSentinel, type RedisSentinelSet, type RedisSentinelOptions, type RedisSetMember, type RedisAddress } from './redis-sentinel.ts';
export { startKube, type KubeServer, type KubeAccess, type KubeOptions } from './kube.ts';
export { installCrds, kubeConfig, readCrds, repoRoot, crdDir } from './crds.ts';
export { serverVersions, goBinary, redisBinary, binDir, cacheDir } from './binaries.ts';
export { freePort } from './ports.ts';
export { AGENT_BINARY, agentBinaryStale, ensureAgentBinary } from './agent-binary.ts';
export { ensureNamespace, applyDeployment, applyDeploymentFile } from './apply.ts';
export { TABLE, getTable, formatTable } from './table.ts';
export { kubeRequest, message as kubeMessage, type KubeResponse } from './kube-http.ts';
export { startProcess, type ServerProcess } from './process.ts';
export {
  startToxiproxy,
  toxiproxyClient,
  isToxiproxyError,
  ToxiproxyError,
  type ToxiproxyServer,
  type ToxiproxyClient,
  type ToxiProxy,
  type Toxic,
  type ToxicSpec,
  type ToxicType,
  type ToxicStream,
  type ToxicOptions,
} from './toxiproxy.ts';
export { agentNats, controlPlaneNats, controlPlaneNatsEnv, agentNatsEnv, recordViolations, type NatsSettings, type Violation } from './nats-settings.ts';
export {
  ocrDetection,
  createDeployment,
  deleteDeployment,
  readyNodes,
  waitForReadyNodes,
  watchDeploymentStatus,
  type StatusWatch,
} from './fleet-deployments.ts';
export { fixtureRoot, controlPlaneResponder, until, tempDir, agentProcessEnv, type AgentProcessOptions, type Responder } from './agent-harness.ts';
export { pythonEnv, KSERVE_SERVER, type PythonEnv, type PythonEnvResult } from './python-env.ts';
export {
  launchBrowser,
  watchedPage,
  measureFirstLoad,
  chromiumPath,
  browserUnavailableReason,
  BrowserError,
  isBrowserError,
  DEBIAN_CHROMIUM,
  type WatchedPage,
  type FirstLoad,
} from './browser.ts';
// The fleet stack (control plane + simulated agents) is `@edgeplane/env/fleet-stack`: it loads
// the control plane and the simulator, which most users of this module never need. Likewise
// `@edgeplane/env/serving-agent`, an agent process serving given models (it loads agent code).
// The single-node test cluster: kubelet, containerd, runc, CNI, controllers (docs/cluster.md).
export {
  startCluster,
  clusterUnsupportedReason,
  clusterBinary,
  ClusterError,
  POD_SUBNET,
  type KubeCluster,
  type ClusterOptions,
  type ClusterErrorCode,
  type ClusterBinary,
} from './cluster.ts';
export { writeOciArchive, ensurePauseImage, ensureProbeImage, ensureCoreDnsImage, PAUSE_IMAGE, PROBE_IMAGE, type ImageConfig } from './cluster-images.ts';
export {
  CLUSTER_DNS_IP,
  CLUSTER_DOMAIN,
  CLUSTER_DNS_NAMESPACE,
  CLUSTER_DNS_SERVICE,
  COREFILE,
  clusterDnsManifests,
  resolveInCluster,
  type ClusterDns,
} from './cluster-dns.ts';
export { KUBELET_CLIENT_USER, writeKubeletPki, type KubeletPki } from './cluster-pki.ts';
// The chart on the test cluster: product images imported, NATS and Redis as pods, helm install.
export {
  importProductImages,
  missingProductImages,
  startBackends,
  installRelease,
  releaseValues,
  mergeValues,
  clusterHelm,
  clusterHasDns,
  waitForRollout,
  listPods,
  podLogTail,
  applyObject,
  collectionPath,
  pluralOf,
  ensureClusterNamespace,
  splitReference,
  ReleaseError,
  TRUST_SECRET,
  REDIS_AUTH_SECRET,
  type ProductImages,
  type ClusterBackends,
  type BackendsOptions,
  type ClusterRelease,
  type ReleaseOptions,
  type ReleaseErrorCode,
  type PodState,
  type Values,
  type HelmResult as ClusterHelmResult,
} from './cluster-release.ts';
