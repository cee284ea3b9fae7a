// Uplink from /sys/class/net: the interface of the default route when /proc/net/route says,
// else the best interface that is up.
import type { LinkType, Network } from '@edgeplane/api';
import type { RootFs } from './rootfs.ts';

export interface LinkReading {
  name: string;
  wireless: boolean;
  devtype?: string;
  up: boolean;
  /** Mbps from the `speed` file; absent or negative when the driver does not know. */
  speedMbps?: number;
}

const VIRTUAL = /^(lo|docker\d*|veth.*|br-.*|virbr.*|cni.*|flannel.*|cali.*|tun\d*|tap\d*|wg\d*|dummy.*|kube-.*)$/;

export function linkType(link: LinkReading): LinkType | null {
  if (link.wireless || /^wl/.test(link.name)) return 'wifi';
  if (link.devtype === 'wwan' || /^(wwan|wwp|rmnet)/.test(link.name)) return 'cellular-4g';
  if (/^(eth|en|em|eno|ens|enp|usb)/.test(link.name)) return 'ethernet';
  return null;
}

const PREFERENCE: readonly LinkType[] = ['ethernet', 'wifi', 'cellular-5g', 'cellular-4g', 'lora'];

/** Pure: picks the uplink. `defaultIface` wins when it is one of the links. */
export function networkFrom(links: readonly LinkReading[], defaultIface?: string): Network {
  const typed = links.flatMap((l) => {
    const type = linkType(l);
    return type ? [{ link: l, type }] : [];
  });
  const chosen =
    typed.find((t) => t.link.name === defaultIface) ??
    typed.filter((t) => t.link.up).sort((a, b) => PREFERENCE.indexOf(a.type) - PREFERENCE.indexOf(b.type))[0];
  // Nothing recognisable (a container with only lo): report ethernet, the likeliest uplink.
  if (!chosen) return { type: 'ethernet', metered: false };
  const net: Network = { type: chosen.type, metered: chosen.type.startsWith('cellular') };
  // Link speed is an upper bound until the NATS probe measures the real throughput.
  if (chosen.link.speedMbps !== undefined && chosen.link.speedMbps > 0) net.bandwidthMbps = chosen.link.speedMbps;
  return net;
}

/** Interface of the default route (destination 00000000, lowest metric) from /proc/net/route. */
export function parseDefaultRoute(text: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of text.split('\n').slice(1)) {
    const [iface, dest, , , , , metric] = line.trim().split(/\s+/);
    const m = Number(metric);
    if (iface && dest === '00000000' && Number.isFinite(m) && (!best || m < best.metric)) best = { iface, metric: m };
  }
  return best?.iface;
}

export async function readLinks(fs: RootFs): Promise<LinkReading[]> {
  const out: LinkReading[] = [];
  for (const name of await fs.list('sys/class/net')) {
    if (VIRTUAL.test(name)) continue;
    const base = `sys/class/net/${name}`;
    const link: LinkReading = {
      name,
      wireless: await fs.isDirectory(`${base}/wireless`),
      up: (await fs.text(`${base}/operstate`)) === 'up',
    };
    const devtype = /^DEVTYPE=(.+)$/m.exec((await fs.text(`${base}/uevent`)) ?? '')?.[1];
    if (devtype) link.devtype = devtype.trim();
    const speed = Number(await fs.text(`${base}/speed`));
    if (Number.isFinite(speed) && speed > 0) link.speedMbps = speed;
    out.push(link);
  }
  return out;
}

export async function probeNetwork(fs: RootFs): Promise<Network> {
  const route = await fs.text('proc/net/route');
  return networkFrom(await readLinks(fs), route ? parseDefaultRoute(route) : undefined);
}
