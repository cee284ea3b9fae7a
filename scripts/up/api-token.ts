// A bearer token for the control plane's HTTP API, granted the way an operator grants a user:
// a ServiceAccount bound to a read-only ClusterRole (get, list and watch on the edgeplane.io
// resources, get on /metrics), and a token for it from the TokenRequest API. The control plane
// checks it with a TokenReview and a SubjectAccessReview like any other caller's.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { EMD_PLURAL, EN_PLURAL, GROUP } from '@edgeplane/api';

/** Where the control plane's API listens, and a token it accepts. */
export interface ApiEndpoint {
  url: string;
  token: string;
  /** The token in a file (0600), for the curl line make up prints. */
  tokenFile: string;
}

const NAME = 'edgeplane-up-viewer';
const NAMESPACE = 'default';
/** Long enough for a make up session that runs all day. */
const TOKEN_SECONDS = 24 * 3600;

async function createOrKeep(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw err;
  }
}

/** Creates the viewer ServiceAccount and its binding (kept when present) and requests a token. */
export async function viewerToken(kc: KubeConfig, url: string, dir: string): Promise<ApiEndpoint & { remove(): Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const metadata = { name: NAME, labels: { 'app.kubernetes.io/managed-by': 'edgeplane-make-up' } };
  await createOrKeep(() => core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata } }));
  await createOrKeep(() =>
    rbac.createClusterRole({
      body: {
        metadata,
        rules: [
          { apiGroups: [GROUP], resources: [EMD_PLURAL, EN_PLURAL], verbs: ['get', 'list', 'watch'] },
          { nonResourceURLs: ['/metrics'], verbs: ['get'] },
        ],
      },
    }),
  );
  await createOrKeep(() =>
    rbac.createClusterRoleBinding({
      body: {
        metadata,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME },
        subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: NAMESPACE }],
      },
    }),
  );
  const request = await core.createNamespacedServiceAccountToken({ name: NAME, namespace: NAMESPACE, body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } } });
  const token = request.status?.token;
  if (!token) throw new Error(`the API server returned no token for ServiceAccount ${NAMESPACE}/${NAME}`);
  const tokenFile = join(dir, 'api-token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  const ignoreMissing = (err: unknown) => {
    if (!(err instanceof ApiException && err.code === 404)) throw err;
  };
  return {
    url,
    token,
    tokenFile,
    async remove() {
      await rbac.deleteClusterRoleBinding({ name: NAME }).catch(ignoreMissing);
      await rbac.deleteClusterRole({ name: NAME }).catch(ignoreMissing);
      await core.deleteNamespacedServiceAccount({ name: NAME, namespace: NAMESPACE }).catch(ignoreMissing);
    },
  };
}
