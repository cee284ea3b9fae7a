// A list that renders only the rows in view (plus a few either side): 5,000 nodes cost the
// same as 30. Rows have one fixed height; the spacer gives the scrollbar its true length.
import type { VNode } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { visibleRange } from '../fleet-rows.ts';
import { html } from '../html.ts';

export interface VirtualListProps<T> {
  rows: T[];
  rowPx: number;
  renderRow: (row: T, index: number) => VNode;
  keyOf: (row: T) => string;
  label: string;
  header?: VNode;
}

export function VirtualList<T>({ rows, rowPx, renderRow, keyOf, label, header }: VirtualListProps<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    let frame = 0;
    const measure = () => {
      frame = 0;
      setView({ top: el.scrollTop, height: el.clientHeight });
    };
    const onScroll = () => {
      if (!frame) frame = requestAnimationFrame(measure);
    };
    measure();
    el.addEventListener('scroll', onScroll, { passive: true });
    const resize = new ResizeObserver(onScroll);
    resize.observe(el);
    return () => {
      el.removeEventListener('scroll', onScroll);
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
    };
  }, []);

  // A filter that shortens the list past the scroll position: back to the top.
  useEffect(() => {
    const el = scroller.current;
    if (el && el.scrollTop > rows.length * rowPx) el.scrollTop = 0;
  }, [rows.length, rowPx]);

  const { start, end } = visibleRange(view.top, view.height, rowPx, rows.length);
  const items: VNode[] = [];
  for (let i = start; i < end; i++) {
    const row = rows[i]!;
    items.push(html`<div class="vrow" role="row" aria-rowindex=${i + 2} key=${keyOf(row)} style=${`transform:translateY(${i * rowPx}px);height:${rowPx}px`}>${renderRow(row, i)}</div>`);
  }
  return html`<div class="vlist" role="table" aria-label=${label} aria-rowcount=${rows.length + 1}>
    ${header ?? null}
    <div class="vscroll" ref=${scroller} data-rows=${rows.length} style=${`height:min(${rows.length * rowPx}px, var(--vlist-height))`}>
      <div class="vspacer" style=${`height:${rows.length * rowPx}px`}>${items}</div>
    </div>
  </div>`;
}
