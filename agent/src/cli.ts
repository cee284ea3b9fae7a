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
import { build as buildHttp } from './serve/http.ts';
import { defaultGrpcAddress, listenGrpc, type GrpcServing } from './serve/grpc.ts';
import { isLoopbackHost, readHttpToken } from './serve/http-auth.ts';

async function run(config: AgentConfig): Promise<RunningAgent> {
  const log = createLogger(config.logLevel);
  // Read once, before anything starts: a missing or empty token file is a configuration error.
  const bearerToken = config.httpTokenFile ? readHttpToken(config.httpTokenFile) : undefined;
  let manager: WorkloadManagerImpl | undefined;
  return startAgent(config, {
    log,
    createManager: async (options) => (manager = await createWorkloadManager(options)),
    onNatsConnected: (nc) => manager?.attachNats(nc),
    startServing: async (_manager, agentLog) => {
      if (!manager) return async () => undefined;
      const app = buildHttp({ registry: manager, logger: agentLog, bodyLimitBytes: config.maxRequestBytes, maxTensorElements: config.maxTensorElements, ...(bearerToken ? { bearerToken } : {}) });
      await app.listen({ host: config.httpAddr.host, port: config.httpAddr.port });
      agentLog.info({ address: app.server.address(), bearerToken: bearerToken ? 'required' : 'none' }, 'local inference endpoint listening');
      if (!bearerToken && !isLoopbackHost(config.httpAddr.host)) {
        agentLog.warn(
          { address: `${config.httpAddr.host}:${config.httpAddr.port}`, setting: 'EP_AGENT_HTTP_TOKEN_FILE (--http-token-file)' },
          'THE LOCAL INFERENCE ENDPOINT LISTENS BEYOND LOOPBACK WITHOUT A TOKEN: anyone on the network can run and read every model here; set --http-token-file',
        );
      }
      // gRPC on its own port, answering from the same registry and handlers. A port taken
      // under the default address is logged and gRPC left off (HTTP keeps serving); a port
      // taken under an address the operator set stops the start, as HTTP's does.
      const grpcAddr = config.grpcAddr ?? defaultGrpcAddress(config.httpAddr);
      let grpcServing: GrpcServing | undefined;
      try {
        grpcServing = await listenGrpc({ registry: manager, host: grpcAddr.host, port: grpcAddr.port, logger: agentLog, maxRequestBytes: config.maxRequestBytes, maxTensorElements: config.maxTensorElements, ...(bearerToken ? { bearerToken } : {}) });
      } catch (err) {
        if (config.grpcAddr) {
          await app.close();
          throw err;
        }
        agentLog.error({ err, address: `${grpcAddr.host}:${grpcAddr.port}`, setting: 'EP_AGENT_GRPC_ADDR (--grpc-addr)' }, 'the gRPC inference endpoint could not listen on its default address; serving REST only');
      }
      if (grpcServing) {
        agentLog.info({ address: `${grpcAddr.host}:${grpcServing.port}`, bearerToken: bearerToken ? 'required' : 'none' }, 'local gRPC inference endpoint listening');
        if (!bearerToken && !isLoopbackHost(grpcAddr.host)) {
          agentLog.warn({ address: `${grpcAddr.host}:${grpcServing.port}`, setting: 'EP_AGENT_HTTP_TOKEN_FILE (--http-token-file)' }, 'THE gRPC INFERENCE ENDPOINT LISTENS BEYOND LOOPBACK WITHOUT A TOKEN: set --http-token-file');
        }
      }
      return async () => {
        await Promise.all([app.close(), grpcServing?.close()]);
      };
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
