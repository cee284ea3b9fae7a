// CPU time from /proc: the servers this process started, by name, and any one process.
import { readdirSync, readFileSync } from 'node:fs';

const SERVERS = ['etcd', 'kube-apiserver', 'nats-server', 'redis-server'] as const;

/** User + system CPU seconds of this process's child servers (etcd, kube-apiserver, nats-server, redis-server). */
export function serversCpuSeconds(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the name: state, ppid, ..., utime (12th), stime (13th), in clock ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== process.pid || !(SERVERS as readonly string[]).includes(name)) continue;
    out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return out;
}

/** User + system CPU ms of a process (all its threads), from /proc; NaN when unknown. */
export function processCpuMs(pid: number | null): number {
  if (pid === null) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}
