import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports for servers come from below the kernel's ephemeral range: a port taken from that range
 * is released before the server binds it, and meanwhile any outgoing connection (hundreds, in a
 * fleet test) may be given it, so the server then fails with "address already in use".
 */
function serverPortRange(): [number, number] | null {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? [10_000, low] : null;
  } catch {
    return null;
  }
}
const RANGE = serverPortRange();

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(null) : reject(err)));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A free TCP port on loopback, picked at random below the ephemeral range where there is room
 * (parallel test files then rarely meet), else from the kernel. It is released before use; a
 * clash is retried by the caller.
 */
export async function freePort(): Promise<number> {
  if (RANGE) {
    const [low, high] = RANGE;
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await tryListen(low + Math.floor(Math.random() * (high - low)));
      if (port) return port;
    }
  }
  const port = await tryListen(0);
  if (!port) throw new Error('no free TCP port on 127.0.0.1');
  return port;
}

/** Resolves once something accepts TCP connections on the port, or rejects after timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`process for port ${port} exited before listening`);
    if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
