export { ArtifactStore, type ArtifactStoreOptions, type FetchResult } from './store.ts';
export { TrustPolicy, TrustKeyError, isTrustKeyError, parsePublicKey, type TrustSettings, type TrustedKey } from './trust.ts';
export { downloadVerified, type DownloadResult, type DownloadTarget } from './download.ts';
export { planEviction, type CacheEntry, type EvictionPlan } from './lru.ts';
export { parseArtifactUri, type ArtifactUri } from './uri.ts';
export type { ArtifactSource, SourceRead } from './source.ts';
export { fileSource } from './source-file.ts';
export { httpsSource, HttpStatusError, type HttpsSourceOptions } from './source-https.ts';
export { natsObjSource, ObjectMissingError, type NatsObjSourceOptions } from './source-nats-obj.ts';
