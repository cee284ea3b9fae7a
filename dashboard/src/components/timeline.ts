// One uPlot chart over time, with tier changes drawn as labelled vertical lines. The chart is
// made once and fed new data (setData), remade only when its series change.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from '../html.ts';

export interface TimelineSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Steps for classes (link, tier); lines for measurements. */
  step?: boolean;
}

export interface TimelineMarker {
  /** ms since the epoch */
  t: number;
  label: string;
}

export interface TimelineProps {
  id: string;
  title: string;
  /** ms since the epoch, ascending */
  t: number[];
  series: TimelineSeries[];
  markers: TimelineMarker[];
  y: { min: number; max: number; ticks?: { value: number; label: string }[]; unit?: string };
  /** The window's start and end, ms, so an hour with little data still spans an hour. */
  fromMs: number;
  toMs: number;
  /** One sentence for screen readers: what the plot shows now. */
  summary: string;
}

const HEIGHT = 150;

/** 24-hour local time, seconds only on spans of 15 min or less: short labels that never collide. */
function clockTick(seconds: number, [from, to]: [number, number]): string {
  const d = new Date(seconds * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}${to - from <= 15 * 60 ? `:${two(d.getSeconds())}` : ''}`;
}

function markerPlugin(markers: () => TimelineMarker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        const ctx = u.ctx;
        const { top, height } = u.bbox;
        ctx.save();
        ctx.strokeStyle = '#c2410c';
        ctx.fillStyle = '#c2410c';
        ctx.setLineDash([4, 3]);
        ctx.lineWidth = Math.max(1, devicePixelRatio);
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        // Labels go on the first of three rows where they overlap no other; past that they are
        // left out (every line is still drawn, and the list under the plots names them all).
        const rowEnds = [-Infinity, -Infinity, -Infinity];
        const rowStarts = [Infinity, Infinity, Infinity];
        for (const m of markers()) {
          const x = Math.round(u.valToPos(m.t / 1000, 'x', true));
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          const width = ctx.measureText(m.label).width;
          // Near the right edge the label goes to the left of its line.
          const lx = x + 3 * devicePixelRatio + width > u.bbox.left + u.bbox.width ? x - 3 * devicePixelRatio - width : x + 3 * devicePixelRatio;
          const gap = 6 * devicePixelRatio;
          const row = rowEnds.findIndex((end, i) => lx >= end || lx + width + gap <= rowStarts[i]!);
          if (row < 0) continue;
          ctx.fillText(m.label, lx, top + (12 + row * 13) * devicePixelRatio);
          rowStarts[row] = Math.min(rowStarts[row]!, lx);
          rowEnds[row] = Math.max(rowEnds[row]!, lx + width + gap);
        }
        ctx.restore();
      },
    },
  };
}

function toData(props: TimelineProps): uPlot.AlignedData {
  return [props.t.map((t) => t / 1000), ...props.series.map((s) => s.values)];
}

export function Timeline(props: TimelineProps) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const markers = useRef(props.markers);
  markers.current = props.markers;
  // The x range follows the clock: read on every redraw.
  const xRange = useRef<[number, number]>([props.fromMs / 1000, props.toMs / 1000]);
  const shape = `${props.series.map((s) => s.label).join('|')}|${props.y.min}|${props.y.max}`;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const ticks = props.y.ticks;
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: HEIGHT,
      plugins: [markerPlugin(() => markers.current)],
      scales: {
        x: { time: true, range: () => xRange.current },
        y: { range: [props.y.min, props.y.max] },
      },
      legend: { show: props.series.length > 1 },
      cursor: { drag: { x: false, y: false } },
      axes: [
        // Clock times only: uPlot's default adds the date under the first tick, which collides
        // with the next label on a span of minutes.
        { stroke: '#555', grid: { stroke: '#eee' }, space: 70, values: (_u: uPlot, vals: number[]) => vals.map((v) => clockTick(v, xRange.current)) },
        {
          stroke: '#555',
          grid: { stroke: '#eee' },
          size: 70,
          ...(ticks
            ? { splits: () => ticks.map((t) => t.value), values: (_u: uPlot, vals: number[]) => vals.map((v) => ticks.find((t) => t.value === v)?.label ?? '') }
            : { values: (_u: uPlot, vals: number[]) => vals.map((v) => `${v}${props.y.unit ?? ''}`) }),
        },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          spanGaps: false,
          ...(s.step ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
        })),
      ],
    };
    xRange.current = [props.fromMs / 1000, props.toMs / 1000];
    const u = new uPlot(opts, toData(props), el);
    chart.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      chart.current = null;
    };
  }, [shape]);

  useEffect(() => {
    xRange.current = [props.fromMs / 1000, props.toMs / 1000];
    chart.current?.setData(toData(props), true);
  });

  const first = props.series[0];
  const last = first ? [...first.values].reverse().find((v) => v !== null) : undefined;
  return html`<figure class="timeline" id=${props.id} data-last=${last ?? ''} data-points=${props.t.length} data-markers=${props.markers.length}>
    <figcaption>${props.title}</figcaption>
    <div class="plot" ref=${host} role="img" aria-label=${`${props.title}: ${props.summary}`}></div>
  </figure>`;
}
