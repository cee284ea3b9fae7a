// Loads a view's JSON and loads it again when `refresh` changes, at most once per `minGapMs`,
// keeping what it showed while the next answer is on its way.
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Resource<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, key: string, refresh: number, minGapMs = 1000): Resource<T> {
  const [state, setState] = useState<Resource<T>>({ data: null, error: null, loading: true });
  const last = useRef({ key: '', at: 0 });
  const timer = useRef<number | undefined>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    const sameKey = last.current.key === key;
    if (!sameKey) setState({ data: null, error: null, loading: true });
    const run = () => {
      last.current = { key, at: Date.now() };
      load(controller.signal).then(
        (data) => setState({ data, error: null, loading: false }),
        (err: unknown) => {
          if (controller.signal.aborted) return;
          setState((s) => ({ data: s.data, error: (err as Error).message ?? String(err), loading: false }));
        },
      );
    };
    const wait = sameKey ? last.current.at + minGapMs - Date.now() : 0;
    if (wait > 0) timer.current = window.setTimeout(run, wait);
    else run();
    return () => {
      controller.abort();
      window.clearTimeout(timer.current);
    };
  }, [key, refresh]);

  return state;
}
