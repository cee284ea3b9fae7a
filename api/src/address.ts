import { z } from 'zod';

/** Where a server listens: the control plane's API, the agent's local inference endpoint. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port`; an empty host means every interface. */
export const ListenAddressText = z.string().transform((s, ctx): ListenAddress => {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'must be host:port, e.g. 127.0.0.1:8080' });
    return z.NEVER;
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
});
