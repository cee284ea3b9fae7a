// Counters and histograms kept as plain numbers and written as Prometheus text: the inference
// path loads nothing, and prom-client (about 12 MiB of resident memory) is imported only when
// something scrapes, for the process and Node.js runtime metrics.

export type Labels = Readonly<Record<string, string>>;

const escapeValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const fmt = (n: number): string => (n === Infinity ? '+Inf' : n === -Infinity ? '-Inf' : Number.isNaN(n) ? 'NaN' : String(n));

function labelText(names: readonly string[], labels: Labels, extra?: [string, string]): string {
  const parts = names.map((n) => `${n}="${escapeValue(labels[n] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeValue(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Family<S> {
  protected readonly series = new Map<string, { labels: Labels; value: S }>();
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected get(labels: Labels, init: () => S): S {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, value: init() };
      this.series.set(key, s);
    }
    return s.value;
  }

  abstract write(out: string[]): void;
}

export class CounterFamily extends Family<{ n: number }> {
  inc(labels: Labels, by = 1): void {
    this.get(labels, () => ({ n: 0 })).n += by;
  }

  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} counter`);
    for (const { labels, value } of this.series.values()) out.push(`${this.name}${labelText(this.labelNames, labels)} ${fmt(value.n)}`);
  }
}

export class HistogramFamily extends Family<{ counts: number[]; sum: number; count: number }> {
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = buckets;
  }

  observe(labels: Labels, v: number): void {
    const h = this.get(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) h.counts[i]!++;
    h.sum += v;
    h.count++;
  }

  write(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`);
    for (const { labels, value } of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(this.labelNames, labels, ['le', fmt(b)])} ${value.counts[i]}`));
      out.push(`${this.name}_bucket${labelText(this.labelNames, labels, ['le', '+Inf'])} ${value.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, labels)} ${fmt(value.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, labels)} ${value.count}`);
    }
  }
}

/** A gauge or counter whose series are read at scrape time. */
export function writeSampled(out: string[], type: 'gauge' | 'counter', name: string, help: string, labelNames: readonly string[], samples: readonly { labels: Labels; value: number }[]): void {
  out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  for (const s of samples) out.push(`${name}${labelText(labelNames, s.labels)} ${fmt(s.value)}`);
}
