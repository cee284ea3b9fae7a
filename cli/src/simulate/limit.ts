// At most `n` promises in flight; the rest wait their turn in order.

export type Gate = <T>(fn: () => Promise<T>) => Promise<T>;

export function concurrencyGate(n: number): Gate {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    active -= 1;
    waiting.shift()?.();
  };
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await fn();
    } finally {
      release();
    }
  };
}
