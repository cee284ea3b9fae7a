// Seeded pseudo-random numbers (mulberry32): generated samples, simulated fleets and benchmark
// fleets are the same for the same seed on every run and machine.

export type Random = () => number;

export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in [low, high). */
export function between(random: Random, low: number, high: number): number {
  return low + random() * (high - low);
}
