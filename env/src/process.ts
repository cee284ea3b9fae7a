// Child processes of the test environment: logs to files, and stopped even when the test
// runner dies (a detached watchdog kills them once our pid is gone).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ServerProcess {
  name: string;
  pid: number;
  logFile: string;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
  /**
   * Sends a real signal to the process's group: SIGKILL for a crash (resolves once it has
   * exited), SIGSTOP and SIGCONT to freeze and thaw it (resolve at once).
   */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Last lines of the log, for error messages. */
  tail(lines?: number): string;
}

const running = new Set<ChildProcess>();

function killAll(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.once('exit', killAll);

/** Runs `command` in `dir`, logging to `<logDir>/<name>.log` (logDir defaults to dir). */
export function startProcess(name: string, command: string, args: string[], dir: string, env?: NodeJS.ProcessEnv, logDir = dir): ServerProcess {
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  // A process group of its own: a terminal's Ctrl-C reaches only the parent, which then stops
  // the servers in order (etcd last) instead of all at once.
  const child = spawn(command, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // Two sources into one file: neither may end it (the first to end would make the other's
  // next chunk a write after end); it ends once the child and both pipes have closed.
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.once('close', () => log.end());
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  running.add(child);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    });
  });
  watchdog(child.pid);
  return {
    name,
    pid: child.pid,
    logFile,
    alive: () => !exited,
    async stop(graceMs = 5000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
    async kill(signal) {
      if (exited) return;
      try {
        process.kill(-child.pid!, signal);
      } catch {
        child.kill(signal); // the group is gone already; the child itself may not be
      }
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await exit;
    },
    tail(lines = 20) {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
  };
}

/** A detached shell that SIGKILLs the child once this process is gone. */
function watchdog(childPid: number): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${childPid} 2>/dev/null; do sleep 1; done; kill -9 ${childPid} 2>/dev/null; exit 0`;
  const dog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  dog.unref();
}
