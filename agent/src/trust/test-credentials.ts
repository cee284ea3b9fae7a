// Node credentials for unit tests, signed by throwaway trust material (no CA is needed to
// sign JWTs, so none is made).
import { nkeys } from '@nats-io/transport-node';
import { createTrustMaterial, issueNodeJwt, nodeCreds, type TrustMaterial } from '@edgeplane/trust';

let material: TrustMaterial | undefined;
export const testTrust = (): TrustMaterial => (material ??= createTrustMaterial({ certPem: 'unused', keyPem: 'unused' }));

export interface TestCredential {
  jwt: string;
  seed: string;
  publicKey: string;
  text: string;
}

export async function testCredential(o: { node: string; tags?: string[]; ttlS?: number; seed?: string }): Promise<TestCredential> {
  const kp = o.seed ? nkeys.fromSeed(new TextEncoder().encode(o.seed)) : nkeys.createUser();
  const seed = new TextDecoder().decode(kp.getSeed());
  const jwt = await issueNodeJwt(testTrust(), { node: o.node, userPublicKey: kp.getPublicKey(), tags: o.tags ?? [], ttlS: o.ttlS ?? 3600 });
  return { jwt, seed, publicKey: kp.getPublicKey(), text: nodeCreds(jwt, seed) };
}
