import { beforeAll, describe, expect, it } from 'vitest';
import { createTrustMaterial, fleetAccountJwt, nodeTemplate, publicKey, type TrustMaterial } from '@edgeplane/trust';
import { createCa } from '@edgeplane/trust/certs';
import { accountDrift } from './account-claims.ts';

type Claims = { name: string; nats: Record<string, unknown> & { signing_keys: (string | { role: string; template: { pub: { allow: string[] } } })[] } };

let trust: TrustMaterial;
let wanted: string;

beforeAll(async () => {
  trust = createTrustMaterial(await createCa('test'));
  wanted = await fleetAccountJwt(trust);
});

/** The JWT with its claims edited (the signature no longer matches: the comparison does not check it). */
function edited(jwt: string, edit: (c: Claims) => void): string {
  const [head, body, sig] = jwt.split('.');
  const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Claims;
  edit(claims);
  return [head, Buffer.from(JSON.stringify(claims)).toString('base64url'), sig].join('.');
}

const nodeRole = (c: Claims) => c.nats.signing_keys.find((k) => typeof k === 'object' && k.role === 'node') as { template: { pub: { allow: string[] } } };

describe('the fleet account JWT the server holds against the one the control plane signs', () => {
  it('agrees with itself signed again later, whatever revocations it carries', async () => {
    const again = await fleetAccountJwt(trust, { UABC: 1_700_000_000 });
    expect(again).not.toBe(wanted);
    expect(accountDrift(again, wanted)).toEqual([]);
  });

  it('names the node role permissions when the template predates a change (no escalate subject)', async () => {
    const older = edited(await fleetAccountJwt(trust, { UABC: 1 }), (c) => {
      const t = nodeRole(c).template;
      t.pub.allow = t.pub.allow.filter((s) => !s.includes('{{tag(escalate)}}'));
    });
    expect(nodeTemplate().pub?.allow).toContain('ep.v1.infer.{{tag(escalate)}}');
    expect(accountDrift(older, wanted)).toEqual(['node role permissions']);
  });

  it('ignores key order inside the template', () => {
    const reordered = edited(wanted, (c) => {
      const role = nodeRole(c) as unknown as Record<string, unknown>;
      const t = role.template as Record<string, unknown>;
      role.template = Object.fromEntries(Object.entries(t).reverse());
    });
    expect(accountDrift(reordered, wanted)).toEqual([]);
  });

  it('names the signing keys when one is missing or the node role has another key', () => {
    expect(accountDrift(edited(wanted, (c) => void c.nats.signing_keys.pop()), wanted)).toEqual(['signing keys']);
    const otherKey = edited(wanted, (c) => {
      (nodeRole(c) as unknown as { key: string }).key = publicKey(trust.fleetSigning);
    });
    expect(accountDrift(otherKey, wanted)).toEqual(['signing keys']);
  });

  it('names the node role permissions when the server has no node role at all', () => {
    const none = edited(wanted, (c) => {
      c.nats.signing_keys = c.nats.signing_keys.filter((k) => typeof k === 'string');
    });
    expect(accountDrift(none, wanted)).toEqual(['node role permissions', 'signing keys']);
  });

  it('names other account claims and the name', () => {
    const changed = edited(wanted, (c) => {
      c.name = 'OLD';
      c.nats.exports = [];
      (c.nats.limits as Record<string, unknown>).conn = 10;
    });
    expect(accountDrift(changed, wanted)).toEqual(['name', 'exports', 'limits']);
  });

  it('says so when the server holds something that is not an account JWT', () => {
    expect(accountDrift('garbage', wanted)).toEqual(['not an account JWT']);
    expect(() => accountDrift(wanted, 'garbage')).toThrow(/wanted JWT/);
  });
});
