export * from './meta.ts';
export * from './hardware.ts';
export * from './edgemodeldeployment.ts';
export * from './edgenode.ts';
export * from './messages.ts';
export * from './errors.ts';
export * from './codec.ts';
export * from './crd.ts';
