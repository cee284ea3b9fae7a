// Bandwidth and round-trip time to the control plane, measured over NATS request/reply on
// `ep.v1.node.<node>.probe`: the control plane answers with the number of bytes it received.
// RTT is the median of small requests; bandwidth times a payload that doubles until the
// transfer takes long enough to measure, capped lower on metered links.
import type { NatsConnection } from '@nats-io/transport-node';
import { subjects } from '@edgeplane/api';
import { inboxPrefix } from '@edgeplane/trust';

export interface LinkMeasurement {
  rttMs: number;
  bandwidthMbps: number;
  /** Bytes this measurement cost on the link, both directions, payloads only. */
  bytes: number;
  /** Requests it sent. */
  requests: number;
  /** Bytes in NATS client frames, both directions (what idle-traffic figures count; TCP/IP on top). */
  frameBytes: number;
}

export interface LinkProbeOptions {
  metered: boolean;
  /** Per request, ms. */
  timeoutMs?: number;
  rttSamples?: number;
  /** Stop doubling once one transfer takes this long, ms. */
  targetMs?: number;
  /** Largest payload, bytes; further capped by the server's max_payload. */
  maxBytes?: number;
  /** Only the round trip (empty requests); `bandwidthMbps` is then NaN. */
  rttOnly?: boolean;
}

/** The reply did not say how many bytes arrived, or the count is wrong. */
export class LinkProbeError extends Error {
  override readonly name = 'LinkProbeError';
  readonly code = 'LINK_PROBE_FAILED';
}

export function isLinkProbeError(err: unknown): err is LinkProbeError {
  return err instanceof LinkProbeError;
}

/** Pure: the byte count in a probe reply: `{"bytes":N}` (any extra fields ignored) or a bare number. */
export function parseProbeReply(text: string): number | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    if (typeof value === 'object' && value !== null && 'bytes' in value) {
      const bytes = (value as { bytes: unknown }).bytes;
      if (typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 0) return bytes;
    }
  } catch {
    // not JSON
  }
  return null;
}

const utf8 = new TextEncoder();
/** nats.js replies to a request on `<inbox prefix>.<22-character nuid>.<8-character token>`. */
const REPLY_SUFFIX_BYTES = 1 + 22 + 1 + 8;
/** Subscription ids of an agent's connection stay in two digits. */
const SID_DIGITS = 2;

/**
 * Pure: bytes one request/reply costs in NATS client frames: `PUB <subject> <reply> <n>\r\n<payload>\r\n`
 * out and `MSG <reply> <sid> <n>\r\n<payload>\r\n` back.
 */
export function requestFrameBytes(subject: string, replySubjectBytes: number, requestBytes: number, replyBytes: number): number {
  const pub = 4 + utf8.encode(subject).length + 1 + replySubjectBytes + 1 + String(requestBytes).length + 2 + requestBytes + 2;
  const msg = 4 + replySubjectBytes + 1 + SID_DIGITS + 1 + String(replyBytes).length + 2 + replyBytes + 2;
  return pub + msg;
}

/** Pure: throughput once the round trip of an empty request is taken off. */
export function bandwidthMbps(bytes: number, elapsedMs: number, rttMs: number): number {
  const transferMs = Math.max(elapsedMs - rttMs, 0.05);
  return Number(((bytes * 8) / (transferMs * 1000)).toPrecision(3));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

export async function measureLink(nc: NatsConnection, node: string, opts: LinkProbeOptions): Promise<LinkMeasurement> {
  const subject = subjects.probe(node);
  const timeout = opts.timeoutMs ?? 10_000;
  const serverMax = nc.info?.max_payload ?? 1024 * 1024;
  const maxBytes = Math.min(opts.maxBytes ?? (opts.metered ? 64 * 1024 : 256 * 1024), serverMax - 1024);
  const targetMs = opts.targetMs ?? 25;
  // The agent's connection takes replies under its node's inbox prefix.
  const replySubjectBytes = utf8.encode(inboxPrefix.node(node)).length + REPLY_SUFFIX_BYTES;
  let cost = 0;
  let requests = 0;
  let frameBytes = 0;

  const send = async (size: number): Promise<number> => {
    const start = performance.now();
    const reply = await nc.request(subject, new Uint8Array(size), { timeout });
    const elapsed = performance.now() - start;
    const received = parseProbeReply(reply.string());
    cost += size + reply.data.length;
    requests += 1;
    frameBytes += requestFrameBytes(subject, replySubjectBytes, size, reply.data.length);
    if (received === null) throw new LinkProbeError(`probe reply on ${subject} carries no byte count`);
    if (received !== size) throw new LinkProbeError(`probe reply on ${subject} counted ${received} bytes of ${size}`);
    return elapsed;
  };

  const rtts: number[] = [];
  for (let i = 0; i < (opts.rttSamples ?? 3); i++) rtts.push(await send(0));
  const rttMs = median(rtts);
  if (opts.rttOnly) return { rttMs: Number(rttMs.toFixed(2)), bandwidthMbps: Number.NaN, bytes: cost, requests, frameBytes };

  let size = 8 * 1024;
  let elapsed = await send(size);
  while (elapsed - rttMs < targetMs && size * 2 <= maxBytes) {
    size *= 2;
    elapsed = await send(size);
  }
  return { rttMs: Number(rttMs.toFixed(2)), bandwidthMbps: bandwidthMbps(size, elapsed, rttMs), bytes: cost, requests, frameBytes };
}
