// What each kind of NATS user may do, as data. nats-server enforces these; the control plane
// never has to check a subject itself. Node rights come from a scoped signing key's role
// template, so a node credential is a node name (and the deployments it serves), not a list of
// rules to keep in sync with the code.
import type { Permissions, UserPermissionsLimits } from '@nats-io/jwt';

export const buckets = { assignments: 'ep-assignments', models: 'ep-models' } as const;

/** Inbox prefixes: a node gets replies only under its own, so no one else can read them. */
export const inboxPrefix = {
  node: (node: string) => `_INBOX.node.${node}`,
  /** Enrolling agents share the bootstrap user; a reply carries only a public JWT. */
  enroll: (tokenId: string) => `_INBOX.enroll.${tokenId}`,
} as const;

/** Subject of enrolment requests (the bootstrap user's only right). */
export const enrollSubject = 'ep.v1.enroll';

/** JWT tag a node credential carries per deployment it may serve: `serve:<namespace>.<deployment>`. */
export const serveTag = (namespace: string, deployment: string) => `serve:${namespace}.${deployment}`;

/**
 * JWT tag a node credential carries per deployment its workloads may escalate to (joint
 * inference): `escalate:<namespace>.<deployment>` lets it publish requests on that inference
 * subject, and nothing else of that deployment.
 */
export const escalateTag = (namespace: string, deployment: string) => `escalate:${namespace}.${deployment}`;

/** A response to a request the user received may be sent once, within this long (ns). */
const RESPONSE_TTL_NS = 5 * 60 * 1_000_000_000;

const kvStream = `KV_${buckets.assignments}`;
const objStream = `OBJ_${buckets.models}`;

/**
 * The node role. `{{name()}}` is the user JWT's name (the node), `{{tag(serve)}}` expands to
 * every `serve:` tag value; a node with no such tag gets no inference subject at all.
 */
export function nodeTemplate(): Partial<UserPermissionsLimits> {
  const self = '{{name()}}';
  return {
    pub: {
      allow: [
        `ep.v1.node.${self}.hello`,
        `ep.v1.node.${self}.status`,
        `ep.v1.node.${self}.probe`,
        `ep.v1.node.${self}.renew`,
        // Its own assignment key by direct get (the key is in the subject, so the server can
        // check it), and the bucket's configuration, which `Kvm.open` reads.
        `$JS.API.DIRECT.GET.${kvStream}.$KV.${buckets.assignments}.${self}`,
        `$JS.API.STREAM.INFO.${kvStream}`,
        // The model store, read only: its configuration, object metadata by direct get, and
        // ordered pull consumers over one object's chunks (delivered to its own inbox). A
        // consumer reads; nothing here can publish into the stream.
        `$JS.API.STREAM.INFO.${objStream}`,
        `$JS.API.DIRECT.GET.${objStream}.>`,
        `$JS.API.STREAM.MSG.GET.${objStream}`,
        `$JS.API.CONSUMER.CREATE.${objStream}.>`,
        `$JS.API.CONSUMER.INFO.${objStream}.>`,
        `$JS.API.CONSUMER.MSG.NEXT.${objStream}.>`,
        `$JS.API.CONSUMER.DELETE.${objStream}.>`,
        // Hard examples to the escalation tiers its workloads name, as requests.
        'ep.v1.infer.{{tag(escalate)}}',
      ],
      deny: [],
    },
    sub: {
      allow: [
        `${inboxPrefix.node(self)}.>`,
        `$KV.${buckets.assignments}.${self}`,
        // Commands to this node only (today: send a full heartbeat after the control plane
        // lost telemetry). A subject rather than a field in its KV entry: asking must not
        // write a new assignment revision to every node, and a node cannot publish here.
        `ep.v1.node.${self}.cmd`,
        'ep.v1.infer.{{tag(serve)}}',
      ],
      deny: [],
    },
    resp: { max: 1, ttl: RESPONSE_TTL_NS },
    subs: 256,
    data: -1,
    payload: -1,
  };
}

/** The bootstrap user: one enrolment request, a reply on its own inbox, nothing else. */
export function bootstrapPermissions(tokenId: string): Partial<Permissions> {
  return {
    pub: { allow: [enrollSubject], deny: [] },
    sub: { allow: [`${inboxPrefix.enroll(tokenId)}.>`], deny: [] },
  };
}

/** Inference clients live in their own account, which imports only the inference service. */
export function clientPermissions(): Partial<Permissions> {
  return {
    pub: { allow: ['ep.v1.infer.>'], deny: [] },
    sub: { allow: ['_INBOX.>'], deny: [] },
  };
}
