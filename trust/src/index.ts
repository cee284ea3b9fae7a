// @edgeplane/trust: who may say what on the fleet bus, and the certificates it runs over.
export * from './material.ts';
export * from './permissions.ts';
export * from './accounts.ts';
export * from './users.ts';
export * from './leaf.ts';
export * from './pin.ts';
export type { CertificateAuthority, ServerCertificate } from './certs.ts';
export * from './server-config.ts';
export * from './creds.ts';
export * from './proof.ts';
export * from './account-read.ts';
