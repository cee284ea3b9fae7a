// `edgeplane node revoke`: marks the EdgeNode revoked (and cordons it), which the leader turns
// into a revocation of the node's key in the fleet account, pushed to nats-server.
import { EN_PLURAL, GROUP, NODE_IDENTITY_ANNOTATIONS, NodeName, VERSION } from '@edgeplane/api';
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from '@kubernetes/client-node';
import { IdentityError } from './errors.ts';
import { kubeError } from './kube.ts';

export async function revokeNode(custom: CustomObjectsApi, node: string): Promise<{ publicKey?: string }> {
  if (!NodeName.safeParse(node).success) throw new IdentityError('BAD_ARGUMENT', `${JSON.stringify(node)} is not a node name (a lowercase DNS label)`);
  let patched: { metadata?: { annotations?: Record<string, string> } };
  try {
    patched = (await custom.patchClusterCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: EN_PLURAL,
        name: node,
        // No new placements either: a revoked node cannot fetch or report.
        body: { metadata: { annotations: { [NODE_IDENTITY_ANNOTATIONS.revoked]: 'true' } }, spec: { unschedulable: true } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as typeof patched;
  } catch (err) {
    throw kubeError(`revoke EdgeNode ${node}`, err);
  }
  const key = patched.metadata?.annotations?.[NODE_IDENTITY_ANNOTATIONS.nkey];
  return key ? { publicKey: key } : {};
}
