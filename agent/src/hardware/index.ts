export { discover, probeHost, probeLive, assignIds, type Discovery, type DiscoverOptions } from './discover.ts';
export { rootFs, type RootFs } from './rootfs.ts';
export { OverrideFile, OverrideFileError, isOverrideFileError, parseOverride, readOverride } from './override.ts';
export { KNOWN_DEVICES, USB_DEVICES } from './known-devices.ts';
