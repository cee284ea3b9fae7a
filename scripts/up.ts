// `make up`: the main job. Starts the servers (or uses $KUBECONFIG's cluster), installs the
// CRDs, applies the examples, and shows them as `kubectl get emd -A` would, until Ctrl-C.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EMD_PLURAL, GROUP, VERSION } from '@edgeplane/api';
import { applyDeploymentFile } from '../test/env/apply.ts';
import { installCrds, kubeConfig, repoRoot, serverVersions, startKube, startNats, startRedis } from '../test/env/index.ts';
import { formatTable, getTable } from '../test/env/table.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const stops: Array<() => Promise<void>> = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\nstopping everything this run started...');
    for (const stop of stops.reverse()) await stop().catch(() => {});
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    say('[up] starting etcd + kube-apiserver, nats-server (JetStream), redis-server on loopback');
    const kube = await startKube({ log: (l) => say(`[up] ${l}`) });
    stops.push(() => kube.stop());
    const nats = await startNats();
    stops.push(() => nats.stop());
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const v = serverVersions();
    say(`[up] kube-apiserver ${v['kube-apiserver']}, etcd ${v.etcd}, nats-server ${v['nats-server']} at ${nats.url}, redis ${v['redis-server']} at ${redis.url}`);

    const crds = await installCrds(kube);
    say(`[up] CRDs established: ${crds.join(', ')}`);
    const kc = kubeConfig(kube);
    const examples = join(repoRoot, 'deploy', 'examples');
    for (const file of readdirSync(examples).filter((f) => f.endsWith('.yaml')).sort()) {
      const applied = await applyDeploymentFile(kc, join(examples, file));
      for (const m of applied) say(`[up] edgemodeldeployment.edgeplane.io/${m.metadata.name} created in ${m.metadata.namespace ?? 'default'} (${file})`);
    }
    say(`\n$ kubectl --kubeconfig ${kube.kubeconfigPath} get emd -A`);
    say(formatTable(await getTable(kube, `/apis/${GROUP}/${VERSION}/${EMD_PLURAL}`), true));
    say(`\n[up] running; use the kubeconfig above with kubectl. Ctrl-C stops every process this started.`);
    await new Promise(() => {});
  } catch (err) {
    console.error(`[up] failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll(1);
  }
}

void main();
