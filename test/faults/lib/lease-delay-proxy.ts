// An HTTP proxy in front of the API server that holds the replies to Lease updates (renews)
// for a set time: the server has applied the renew, the client hears of it late, the fault
// that lets a leader believe it holds a Lease a successor already took. A TCP-level delay
// would hold the Lease read first, which fails the renew harmlessly; this delays the renew
// itself. Loopback only; the client speaks plain HTTP to it with the API server's token.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request } from 'node:https';

export interface LeaseDelayProxy {
  /** `http://host:port` to use as the API server. */
  url: string;
  /** Delay of the replies to Lease updates, ms; 0 passes them through. */
  setRenewReplyDelayMs(ms: number): void;
  /** Lease update replies held so far. */
  held(): number;
  close(): Promise<void>;
}

export async function startLeaseDelayProxy(target: { server: string; ca?: Buffer }): Promise<LeaseDelayProxy> {
  const upstream = new URL(target.server);
  const ca = target.ca;
  let delayMs = 0;
  let held = 0;
  const server: Server = createServer((req, res) => {
    const isRenew = req.method === 'PUT' && /\/leases\//.test(req.url ?? '');
    const hold = isRenew ? delayMs : 0;
    if (hold > 0) held += 1;
    const out = request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host }, ...(ca ? { ca } : {}) },
      (reply: IncomingMessage) => {
        const send = () => {
          if (res.destroyed) return reply.destroy();
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        };
        if (hold > 0) setTimeout(send, hold);
        else send();
      },
    );
    // The client giving up (its timeout) does not undo a request the server has applied.
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('lease delay proxy has no TCP address');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    setRenewReplyDelayMs(ms) {
      delayMs = ms;
    },
    held: () => held,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
