// The highest leader term written into the assignments bucket: where a newly created Lease
// starts counting, so terms keep growing when the Lease is deleted and made again.
import { Assignment, decode } from '@edgeplane/api';
import type { KV } from '@nats-io/kv';

export async function highestStoredTerm(kv: KV): Promise<number> {
  let highest = 0;
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== 'PUT') continue;
    const decoded = decode(Assignment, 'assignment', entry.value);
    if (decoded.ok && decoded.value.term !== undefined && decoded.value.term > highest) highest = decoded.value.term;
  }
  return highest;
}
