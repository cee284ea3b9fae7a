// The edgeplane-agent command: parses configuration, starts the agent with the workload
// manager and the local inference endpoint, and stops it gracefully on SIGTERM or SIGINT.
import { createLogger } from './log.ts';
import { parseConfig, isConfigError, type AgentConfig } from './config.ts';
import { AGENT_VERSION } from './version.ts';
import { startAgent, type RunningAgent } from './main.ts';
import { isOverrideFileError } from './hardware/override.ts';
import { isTrustKeyError } from './artifacts/trust.ts';
import { isIdentityError } from './trust/errors.ts';
import { createWorkloadManager, type WorkloadManagerImpl } from './workloads/manager.ts';
import { startLocalEndpoints } from './serve/endpoints.ts';
import { readHttpToken } from './serve/http-auth.ts';
import { createAgentMetrics } from './metrics/index.ts';

async function run(config: AgentConfig): Promise<RunningAgent> {
  const log = createLogger(config.logLevel);
  // Read once, before anything starts: a missing or empty token file is a configuration error.
  const bearerToken = config.httpTokenFile ? readHttpToken(config.httpTokenFile) : undefined;
  let manager: WorkloadManagerImpl | undefined;
  const metrics = createAgentMetrics({ defaultMetrics: true });
  return startAgent(config, {
    log,
    createManager: async (options) => {
      manager = await createWorkloadManager({ ...options, instrument: metrics.instrument });
      metrics.watch(manager);
      return manager;
    },
    onNatsConnected: (nc) => manager?.attachNats(nc),
    startServing: async (_manager, agentLog) => {
      if (!manager) return async () => undefined;
      const endpoints = await startLocalEndpoints({
        registry: manager,
        log: agentLog,
        httpAddr: config.httpAddr,
        ...(config.grpcAddr ? { grpcAddr: config.grpcAddr } : {}),
        maxRequestBytes: config.maxRequestBytes,
        maxTensorElements: config.maxTensorElements,
        ...(bearerToken ? { bearerToken } : {}),
        metrics: () => metrics.scrape(),
      });
      return () => endpoints.close();
    },
  });
}

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig({ argv, env });
  } catch (err) {
    if (!isConfigError(err)) throw err;
    process.stderr.write(`edgeplane-agent: ${err.message}\nRun edgeplane-agent --help for the settings.\n`);
    return 2;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(`${parsed.text}\n`);
    return 0;
  }
  if (parsed.kind === 'version') {
    process.stdout.write(`edgeplane-agent ${AGENT_VERSION} (node ${process.versions.node}, ${process.platform}-${process.arch})\n`);
    return 0;
  }

  let agent: RunningAgent;
  try {
    agent = await run(parsed.config);
  } catch (err) {
    if (isOverrideFileError(err) || isTrustKeyError(err) || isConfigError(err) || (isIdentityError(err) && err.fatal)) {
      process.stderr.write(`edgeplane-agent: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      // A second signal while draining means "now".
      if (stopping) return resolve(130);
      stopping = true;
      process.stderr.write(`edgeplane-agent: ${signal}, stopping\n`);
      agent.stop().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`edgeplane-agent: error while stopping: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // A setting only an operator can fix (the server is not signed by the pinned CA): say so and exit.
    void agent.failed.then((err) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`edgeplane-agent: ${err.message}\n`);
      agent.stop().then(
        () => resolve(2),
        () => resolve(2),
      );
    });
  });
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`edgeplane-agent: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
