// The last applied Assignment on local disk, so a restarted agent serves it before NATS or
// the control plane is reachable (edge autonomy). Writes are atomic: temp file, fsync,
// rename, fsync of the directory, so a power cut leaves the old or the new file, never half.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { Assignment, issuesOf, type FieldIssue } from '@edgeplane/api';

const FILE = 'assignment.json';

export const StoredAssignment = z.object({
  /** KV revision the assignment came with; 0 when unknown. */
  revision: z.int().min(0),
  savedAtMs: z.int().min(0),
  assignment: Assignment,
});
export type StoredAssignment = z.infer<typeof StoredAssignment>;

/** The state file exists but cannot be used. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  readonly code = 'CORRUPT_STATE';
  readonly file: string;
  readonly issues: FieldIssue[];

  constructor(file: string, issues: FieldIssue[], options?: { cause?: unknown }) {
    super(`state file ${file}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, options);
    this.file = file;
    this.issues = issues;
  }
}

export function isStateFileError(err: unknown): err is StateFileError {
  return err instanceof StateFileError;
}

export interface AssignmentStore {
  readonly file: string;
  /** The saved assignment, null when none was saved. Throws StateFileError when unusable. */
  load(): Promise<StoredAssignment | null>;
  save(assignment: Assignment, revision: number): Promise<void>;
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function createAssignmentStore(dir: string, node: string): AssignmentStore {
  const file = join(dir, FILE);
  let seq = 0;
  return {
    file,
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new StateFileError(file, [{ path: '(root)', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }], { cause: err });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (cause) {
        throw new StateFileError(file, [{ path: '(root)', message: 'not valid JSON' }], { cause });
      }
      const parsed = StoredAssignment.safeParse(json);
      if (!parsed.success) throw new StateFileError(file, issuesOf(parsed.error), { cause: parsed.error });
      // A state dir copied from another device must not make this one serve that device's models.
      if (parsed.data.assignment.node !== node) {
        throw new StateFileError(file, [{ path: 'assignment.node', message: `is ${parsed.data.assignment.node}, this node is ${node}` }]);
      }
      return parsed.data;
    },
    async save(assignment, revision) {
      await mkdir(dir, { recursive: true });
      const body: StoredAssignment = { revision, savedAtMs: Date.now(), assignment };
      const tmp = join(dir, `.${FILE}.${process.pid}.${seq++}.tmp`);
      try {
        const handle = await open(tmp, 'w', 0o600);
        try {
          await handle.writeFile(JSON.stringify(body));
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      // The rename is durable only once the directory entry is.
      await fsyncPath(dir, 'r');
    },
  };
}
