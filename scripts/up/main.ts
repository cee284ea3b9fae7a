// `make up`: the main job. Starts the servers (or uses $KUBECONFIG's cluster), the control
// plane and three real agents on hardware fixtures, publishes the PP-OCR classifier's variants,
// deploys the OCR line, classifies text lines through NATS and an agent's local endpoint, then
// shows a live table while the battery gateway drains and its link changes. Ctrl-C stops all.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { EMD_PLURAL, GROUP, VERSION } from '@edgeplane/api';
import { applyDeployment, applyDeploymentFile } from '@edgeplane/env';
import { binDir, kubeConfig, repoRoot, serverVersions } from '@edgeplane/env';
import { formatTable, getTable } from '@edgeplane/env';
import { demoAgents } from './agents.ts';
import {
  classifyHttp,
  classifyNats,
  connect,
  deploymentDetail,
  formatRows,
  inputName,
  OCR_EXAMPLE,
  ocrDeployment,
  publishOcrVariants,
  rowsOf,
  textLine,
  waitReady,
} from './demo.ts';
import { dashboardAddress } from './dashboard.ts';
import { startStack, type Stack } from './stack.ts';
import { tryText } from './try.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tty = process.stdout.isTTY === true;

/** What happens to the battery gateway, step by step, once the deployment is Ready. */
const timeline: Array<{ afterMs: number; say: string; apply: (s: Stack) => void }> = [
  { afterMs: 4000, say: 'pi-handheld-1 walks into Wi-Fi range: the full model is worth fetching', apply: (s) => pi(s).setNetwork({ type: 'wifi', bandwidthMbps: 80, metered: false }) },
  { afterMs: 8000, say: 'pi-handheld-1 battery 58%', apply: (s) => pi(s).setPower({ source: 'battery', batteryPercent: 58, charging: false }) },
  { afterMs: 6000, say: 'pi-handheld-1 battery 44%: under 50%, capped at fp16', apply: (s) => pi(s).setPower({ source: 'battery', batteryPercent: 44, charging: false }) },
  { afterMs: 6000, say: 'pi-handheld-1 battery 31%', apply: (s) => pi(s).setPower({ source: 'battery', batteryPercent: 31, charging: false }) },
  { afterMs: 6000, say: 'pi-handheld-1 battery 17%: under 20%, capped at int8', apply: (s) => pi(s).setPower({ source: 'battery', batteryPercent: 17, charging: false }) },
  { afterMs: 8000, say: 'pi-handheld-1 leaves Wi-Fi for LTE: lite profile', apply: (s) => pi(s).setNetwork({ type: 'cellular-4g', bandwidthMbps: 20, metered: true }) },
  { afterMs: 8000, say: 'pi-handheld-1 docked: charging, no cap', apply: (s) => pi(s).setPower({ source: 'battery', batteryPercent: 22, charging: true }) },
];

function pi(stack: Stack) {
  const agent = stack.agents.find((a) => a.spec.node === 'pi-handheld-1');
  if (!agent) throw new Error('no pi-handheld-1 agent');
  return agent;
}

async function main(): Promise<void> {
  let stack: Stack | undefined;
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('\n[up] stopping every process this run started...');
    await stack?.stop();
    say('[up] stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    stack = await startStack({ agents: demoAgents, log: (l) => say(`[up] ${l}`), kubeconfigPath: process.env.KUBECONFIG });
    const v = serverVersions();
    say(`[up] versions: kube-apiserver ${v['kube-apiserver']}, etcd ${v.etcd}, nats-server ${v['nats-server']}, redis-server ${v['redis-server']}`);
    const kc = kubeConfig(stack.kube);
    const api = stack.api;
    // Shown as soon as the cluster is up and kept under the live table, so it is on screen
    // whenever someone looks.
    const example = parse(readFileSync(OCR_EXAMPLE, 'utf8')) as { metadata: { namespace?: string; name: string } };
    const tryIt = tryText({
      kubeconfigPath: stack.kube.kubeconfigPath,
      binDir,
      pluginDir: join(repoRoot, 'cli', 'bin'),
      repoRoot,
      deployment: { namespace: example.metadata.namespace ?? 'default', name: example.metadata.name },
      cwd: process.env.INIT_CWD ?? process.cwd(),
    });
    say(`\n${tryIt}\n`);
    say(`[up] the API takes a bearer token (a read-only ServiceAccount's): curl -H "Authorization: Bearer $(cat ${api.tokenFile})" ${api.url}/api/v1/deployments/warehouse`);
    say(`[up] dashboard (opens as is; the token becomes a cookie): ${dashboardAddress(api)}`);

    say('[up] publishing the PP-OCR direction classifier variants to the ep-models object store');
    const pushed = await publishOcrVariants(stack.nats, (l) => say(`[up]   ${l}`));
    for (const p of pushed) say(`[up]   ${p.uri}  ${(p.sizeBytes / 1024).toFixed(0)} KiB  sha256 ${p.sha256.slice(0, 12)}…`);

    // No gateway here is on assembly line 2, so this one shows placement's explanation.
    await applyDeploymentFile(kc, join(repoRoot, 'deploy', 'examples', 'camera-defect.yaml'));
    const doc = ocrDeployment(pushed);
    const ns = doc.metadata.namespace ?? 'default';
    const name = doc.metadata.name ?? '';
    await applyDeployment(kc, doc);
    say(`[up] applied ${ns}/${name}; waiting for every replica to be Ready`);
    let lastReady = '';
    await waitReady(api, ns, name, 180_000, (d) => {
      if (d.ready !== lastReady) say(`[up]   ${ns}/${name}: ready ${(lastReady = d.ready)}, tiers ${d.tiers || '-'}`);
    });

    say(`\n$ kubectl get emd -A`);
    say(formatTable(await getTable(stack.kube, `/apis/${GROUP}/${VERSION}/${EMD_PLURAL}`), true));
    say(`\n$ kubectl get en`);
    say(formatTable(await getTable(stack.kube, `/apis/${GROUP}/${VERSION}/edgenodes`), false));

    const agent = stack.agents[0]!;
    const input = await inputName(agent.http, name);
    // An inference client with its own credentials, in the clients' account: it can reach the
    // inference service and nothing else on the fleet bus.
    const nc = await connect({ ...(await stack.nats.connectOptions('client')), name: 'make-up-client' });
    say('\n[up] classifying rendered text lines:');
    for (const rotated of [false, true]) {
      const tensor = textLine('edgeplane ships models to the edge', rotated);
      const viaNats = await classifyNats(nc, ns, name, input, tensor);
      const viaHttp = await classifyHttp(agent.http, name, input, tensor);
      const truth = rotated ? 'rotated 180°' : 'upright';
      say(`[up]   ${truth.padEnd(13)} NATS -> ${viaNats.rotated ? 'rotated 180°' : 'upright'} (node ${viaNats.node}, ${viaNats.variant});  ${agent.spec.node} v2 REST -> ${viaHttp.rotated ? 'rotated 180°' : 'upright'}`);
    }

    say('\n[up] live placements (the battery gateway drains step by step; Ctrl-C stops everything)\n');
    let step = 0;
    let nextAt = Date.now() + (timeline[0]?.afterMs ?? 0);
    const events: string[] = [];
    let lastTable = '';
    // Keep traffic flowing so p99 is measured, not predicted.
    for (;;) {
      await classifyNats(nc, ns, name, input, textLine('live traffic', step % 2 === 1, step)).catch(() => undefined);
      if (step < timeline.length && Date.now() >= nextAt) {
        const event = timeline[step]!;
        event.apply(stack);
        events.push(`${new Date().toISOString().slice(11, 19)}  ${event.say}`);
        step++;
        nextAt = Date.now() + (timeline[step]?.afterMs ?? 0);
      }
      const detail = await deploymentDetail(api, ns, name).catch(() => null);
      if (detail) {
        const table = `${ns}/${name}  ready ${detail.ready}  tiers ${detail.tiers}\n\n${formatRows(rowsOf(detail))}\n\n${events.slice(-8).join('\n')}`;
        const screen = `${table}\n\n${tryIt}`;
        if (tty) process.stdout.write(`\x1b[H\x1b[2J${screen}\n`);
        else if (table !== lastTable) say(`${table}\n`);
        lastTable = table;
      }
      await sleep(1000);
    }
  } catch (err) {
    console.error(`[up] failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll(1);
  }
}

void main();
