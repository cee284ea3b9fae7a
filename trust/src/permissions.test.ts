// The escalate grant as nats-server gets it: in the node role's template, inside the fleet
// account JWT that every server configuration preloads (signed anew each time the configuration
// is written, so a server started from it holds the current template).
import { decode } from '@nats-io/jwt';
import { beforeAll, describe, expect, it } from 'vitest';
import { fleetAccountJwt } from './accounts.ts';
import { createCa } from './certs.ts';
import { createTrustMaterial, publicKey, type TrustMaterial } from './material.ts';
import { escalateTag, nodeTemplate, serveTag } from './permissions.ts';
import { serverTrustConfig } from './server-config.ts';

interface ScopedSigner {
  key: string;
  role: string;
  template: { pub: { allow: string[] }; sub: { allow: string[] } };
}

let trust: TrustMaterial;

beforeAll(async () => {
  trust = createTrustMaterial(await createCa('test'));
});

const nodeSigner = (jwt: string): ScopedSigner | undefined =>
  decode<{ signing_keys?: (string | ScopedSigner)[] }>(jwt).nats.signing_keys?.find((k): k is ScopedSigner => typeof k === 'object' && k.key === publicKey(trust.nodeSigning));

describe('the escalate grant', () => {
  it('tags name namespace and deployment as the inference subject does', () => {
    expect(escalateTag('ns', 'big')).toBe('escalate:ns.big');
    expect(serveTag('ns', 'big')).toBe('serve:ns.big');
  });

  it('lets a node publish on the inference subjects its escalate tags name and subscribe only to what it serves', () => {
    const t = nodeTemplate();
    expect(t.pub?.allow).toContain('ep.v1.infer.{{tag(escalate)}}');
    expect(t.pub?.allow?.filter((s) => s.startsWith('ep.v1.infer.'))).toEqual(['ep.v1.infer.{{tag(escalate)}}']);
    expect(t.sub?.allow?.filter((s) => s.startsWith('ep.v1.infer.'))).toEqual(['ep.v1.infer.{{tag(serve)}}']);
  });

  it('is in the fleet account JWT the server configuration preloads', async () => {
    const config = await serverTrustConfig(trust, { resolverDir: '/tmp/accounts' });
    const line = config.split('\n').find((l) => l.trim().startsWith(`${publicKey(trust.fleet)}:`));
    const jwt = JSON.parse(line!.trim().slice(publicKey(trust.fleet).length + 1).trim()) as string;
    expect(nodeSigner(jwt)?.template.pub.allow).toContain('ep.v1.infer.{{tag(escalate)}}');
    // Pushed updates (revocations) carry it too: every fleet account JWT is built from the template.
    expect(nodeSigner(await fleetAccountJwt(trust, { UABC: 1 }))?.template.pub.allow).toContain('ep.v1.infer.{{tag(escalate)}}');
  });
});
