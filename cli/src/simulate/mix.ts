// Profile mix: `jetson:0.2,x86-vnni:0.3,rpi-battery:0.5` -> which profile each simulated node
// gets. Pure.
import { SimulateError } from './errors.ts';
import { isProfileName, PROFILE_NAMES, type ProfileName } from './profiles.ts';

export interface MixEntry {
  profile: ProfileName;
  /** Share of the fleet, normalised so all entries sum to 1. */
  share: number;
}

/**
 * Parses `name:weight,...`. Weights are any positive numbers and are normalised, so
 * `jetson:1,ncs2:3` means a quarter Jetsons; a bare name weighs 1.
 */
export function parseMix(text: string): MixEntry[] {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new SimulateError('BAD_MIX', 'the profile mix is empty; give e.g. jetson:0.5,x86-vnni:0.5');
  const weights = new Map<ProfileName, number>();
  for (const part of parts) {
    const [name = '', weightText, extra] = part.split(':').map((s) => s.trim());
    if (extra !== undefined) throw new SimulateError('BAD_MIX', `"${part}" has more than one colon; write profile:weight`);
    if (!isProfileName(name)) throw new SimulateError('BAD_MIX', `unknown profile "${name}"; known profiles: ${PROFILE_NAMES.join(', ')}`);
    if (weights.has(name)) throw new SimulateError('BAD_MIX', `profile "${name}" appears twice in the mix`);
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (weightText === '' || !Number.isFinite(weight) || weight < 0) {
      throw new SimulateError('BAD_MIX', `weight of "${name}" must be a number >= 0, got "${weightText}"`);
    }
    weights.set(name, weight);
  }
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  if (total <= 0) throw new SimulateError('BAD_MIX', 'the weights of the mix add up to 0');
  return [...weights].filter(([, w]) => w > 0).map(([profile, w]) => ({ profile, share: w / total }));
}

/** Node counts per profile that add up to exactly `n` (largest remainder). */
export function mixCounts(mix: readonly MixEntry[], n: number): Map<ProfileName, number> {
  const exact = mix.map((m) => ({ profile: m.profile, value: m.share * n }));
  const counts = new Map(exact.map((e) => [e.profile, Math.floor(e.value)]));
  let left = n - [...counts.values()].reduce((a, b) => a + b, 0);
  const byRemainder = [...exact].sort((a, b) => b.value - Math.floor(b.value) - (a.value - Math.floor(a.value)));
  for (let i = 0; left > 0; i = (i + 1) % byRemainder.length, left--) {
    const e = byRemainder[i]!;
    counts.set(e.profile, (counts.get(e.profile) ?? 0) + 1);
  }
  return counts;
}

/**
 * The profile of each of `n` nodes, interleaved (smooth weighted round robin, as nginx
 * balances upstreams) so that any prefix of the fleet has about the same mix as the whole.
 */
export function assignProfiles(mix: readonly MixEntry[], n: number): ProfileName[] {
  const counts = [...mixCounts(mix, n)].filter(([, c]) => c > 0);
  const current = counts.map(() => 0);
  const out: ProfileName[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 0; j < counts.length; j++) {
      current[j]! += counts[j]![1];
      if (current[j]! > current[best]!) best = j;
    }
    current[best]! -= n;
    out.push(counts[best]![0]);
  }
  return out;
}
