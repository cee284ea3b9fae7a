// A node's NATS identity as its EdgeNode records it, in annotations: the nkey public key its
// credential is bound to, the token that enrolled it, and the revoke marker that
// `edgeplane node revoke` sets. The control plane reads them; only it and the operator write them.

export const NODE_IDENTITY_ANNOTATIONS = {
  /** The nkey public key (U...) the node's credential is bound to. */
  nkey: 'edgeplane.io/nkey',
  /** Id of the bootstrap token that enrolled this key. */
  enrolledBy: 'edgeplane.io/enrolled-by',
  /** RFC 3339 time of that enrolment. */
  enrolledAt: 'edgeplane.io/enrolled-at',
  /** `"true"`: the node's key is revoked and no credential is issued to it any more. */
  revoked: 'edgeplane.io/revoked',
} as const;

export interface NodeIdentity {
  /** Absent for a node that said hello before enrolment existed, or was never enrolled. */
  publicKey?: string;
  enrolledBy?: string;
  revoked: boolean;
}

/** The identity recorded on an EdgeNode's metadata; tolerant of anything an operator typed. */
export function nodeIdentityOf(metadata: { annotations?: Readonly<Record<string, string>> | undefined } | undefined): NodeIdentity {
  const a = metadata?.annotations ?? {};
  const key = a[NODE_IDENTITY_ANNOTATIONS.nkey];
  const by = a[NODE_IDENTITY_ANNOTATIONS.enrolledBy];
  return {
    ...(key && /^U[A-Z2-7]{55}$/.test(key) ? { publicKey: key } : {}),
    ...(by ? { enrolledBy: by } : {}),
    revoked: a[NODE_IDENTITY_ANNOTATIONS.revoked] === 'true',
  };
}
