// Redis behind Sentinel, as a production install runs it: one primary, one replica and three
// sentinels (`redis-server --sentinel`) on loopback, tuned to fail over within a few seconds so
// the fault tests can kill the primary and watch the fleet ride through.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startProcess, type ServerProcess } from './process.ts';

export interface RedisAddress {
  host: string;
  port: number;
}

/** One redis-server of the set (data or sentinel), which a test may kill and restart. */
export interface RedisSetMember extends RedisAddress {
  name: string;
  process(): ServerProcess;
  /** Starts it again on the same port with the same configuration (a sentinel keeps what it learnt). */
  restart(): Promise<void>;
}

export interface RedisSentinelSet {
  /** The master group name the sentinels monitor (`--redis-master-name`). */
  masterName: string;
  sentinels: RedisSetMember[];
  /** `host:port,...` of the sentinels, as `--redis-sentinels` takes them. */
  sentinelsText: string;
  /** The data servers: the first primary at start, then its replica. */
  servers: RedisSetMember[];
  /** The primary the sentinels name now. */
  primary(): Promise<RedisAddress>;
  /** Resolves once the sentinels name a primary other than `previous`, or rejects after timeoutMs. */
  waitForFailover(previous: RedisAddress, timeoutMs?: number): Promise<RedisAddress>;
  /** A client of the set through the sentinels, as the control plane makes one. */
  client(): Redis;
  stop(): Promise<void>;
}

export interface RedisSentinelOptions {
  masterName?: string;
  /** A primary silent this long is subjectively down, ms (default 1000: a fast failover for tests). */
  downAfterMs?: number;
  /** Sentinel's failover timeout, ms (default 4000). */
  failoverTimeoutMs?: number;
}

const HOST = '127.0.0.1';

async function startMember(name: string, dir: string, args: string[], port: number): Promise<RedisSetMember> {
  let proc: ServerProcess | undefined;
  const launch = async () => {
    proc = startProcess(name, redisBinary(), args, dir);
    const p = proc;
    try {
      await waitForPort(port, 10_000, () => p.alive());
    } catch (err) {
      await p.stop();
      throw new Error(`${name} did not start: ${(err as Error).message}\n${p.tail()}`);
    }
  };
  await launch();
  return {
    name,
    host: HOST,
    port,
    process: () => proc!,
    async restart() {
      await proc?.stop();
      await launch();
    },
  };
}

function dataArgs(dir: string, port: number, replicaOf?: number): string[] {
  return [
    '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no',
    // A replica in sync at once, not after the default 5 s wait for more replicas to share the transfer.
    '--repl-diskless-sync-delay', '0',
    ...(replicaOf ? ['--replicaof', HOST, String(replicaOf)] : []),
  ];
}

/** Starts the set and resolves once the sentinels agree on the primary and see its replica. */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
  const masterName = options.masterName ?? 'edgeplane';
  const root = mkdtempSync(join(tmpdir(), 'ep-redis-sentinel-'));
  const members: RedisSetMember[] = [];
  const stopAll = async () => {
    for (const m of members.reverse()) await m.process().stop();
  };
  try {
    const primaryPort = await freePort();
    const replicaPort = await freePort();
    const servers: RedisSetMember[] = [];
    for (const [i, port] of [primaryPort, replicaPort].entries()) {
      const dir = join(root, `redis-${i}`);
      mkdirSync(dir);
      const member = await startMember(`redis-${i}`, dir, dataArgs(dir, port, i === 0 ? undefined : primaryPort), port);
      members.push(member);
      servers.push(member);
    }
    const sentinels: RedisSetMember[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = join(root, `sentinel-${i}`);
      mkdirSync(dir);
      const port = await freePort();
      // Sentinel rewrites its file with what it learns (replicas, other sentinels, epochs).
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          `bind ${HOST}`,
          'protected-mode no',
          `dir ${dir}`,
          `sentinel monitor ${masterName} ${HOST} ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 4000}`,
          `sentinel parallel-syncs ${masterName} 1`,
        ].join('\n') + '\n',
      );
      const member = await startMember(`sentinel-${i}`, dir, [conf, '--sentinel'], port);
      members.push(member);
      sentinels.push(member);
    }

    const ask = async <T>(fn: (sentinel: Redis) => Promise<T>): Promise<T> => {
      let last: unknown;
      for (const s of sentinels) {
        const conn = new Redis({ host: s.host, port: s.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
        conn.on('error', () => {});
        try {
          await conn.connect();
          return await fn(conn);
        } catch (err) {
          last = err;
        } finally {
          conn.disconnect();
        }
      }
      throw new Error(`no sentinel answered: ${(last as Error | undefined)?.message ?? 'none'}`);
    };
    const primary = async (): Promise<RedisAddress> => {
      const reply = await ask((s) => s.call('SENTINEL', 'get-master-addr-by-name', masterName));
      if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`sentinel does not know master ${masterName}`);
      return { host: String(reply[0]), port: Number(reply[1]) };
    };
    const until = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | null>, detail: () => string = () => ''): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe().catch(() => null);
        if (value !== null) return value;
        if (Date.now() > deadline) throw new Error(`redis sentinel: ${what} within ${timeoutMs} ms${detail() ? ` (${detail()})` : ''}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    await until('the replica did not sync with the primary', 10_000, async () => {
      const conn = new Redis({ host: HOST, port: replicaPort, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      conn.on('error', () => {});
      try {
        await conn.connect();
        return (await conn.info('replication')).includes('master_link_status:up') ? true : null;
      } finally {
        conn.disconnect();
      }
    });
    // Ready when every sentinel sees the replica and the two other sentinels: a failover needs both.
    // A sentinel learns of replicas from the primary's INFO every 10 s and of other sentinels from
    // hellos every 2 s, so on a loaded machine two INFO rounds can pass: allow 45 s, and say
    // what each sentinel saw when even that is not enough.
    let seen: string[] = [];
    await until('sentinels did not discover the replica and each other', 45_000, async () => {
      seen = [];
      for (const s of sentinels) {
        const conn = new Redis({ host: s.host, port: s.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        conn.on('error', () => {});
        try {
          await conn.connect();
          const master = (await conn.call('SENTINEL', 'master', masterName)) as string[];
          const field = (k: string) => Number(master[master.indexOf(k) + 1]);
          seen.push(`${s.port}: ${field('num-slaves')} replica(s), ${field('num-other-sentinels')} other sentinel(s)`);
          if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return null;
        } finally {
          conn.disconnect();
        }
      }
      return true;
    }, () => seen.join('; '));

    const sentinelsText = sentinels.map((s) => `${s.host}:${s.port}`).join(',');
    return {
      masterName,
      sentinels,
      sentinelsText,
      servers,
      primary,
      waitForFailover(previous, timeoutMs = 20_000) {
        return until('no failover', timeoutMs, async () => {
          const now = await primary();
          return now.port !== previous.port || now.host !== previous.host ? now : null;
        });
      },
      client() {
        return new Redis({ sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })), name: masterName, lazyConnect: true, failoverDetector: true });
      },
      async stop() {
        await stopAll();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
