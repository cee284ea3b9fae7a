// One renewal request on `ep.v1.node.<self>.renew`, over the node's own connection: the
// server has already checked that the sender holds the node's key, and the leader signs a
// fresh JWT for that key with the `serve:` tags of the node's current assignment.
import type { NatsConnection } from '@nats-io/transport-node';
import { encode, PROTOCOL_VERSION, RenewRequest, subjects } from '@edgeplane/api';
import { requestCredential, type IssuedCredential } from './credential-request.ts';

export function renewOnce(nc: NatsConnection, node: string, publicKey: string, timeoutMs: number): Promise<IssuedCredential> {
  const body = encode(RenewRequest, 'renew request', { v: PROTOCOL_VERSION, node, publicKey });
  return requestCredential(nc, 'renew', subjects.renew(node), body, { node, publicKey, timeoutMs });
}
