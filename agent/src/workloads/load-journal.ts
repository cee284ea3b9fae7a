// Which artifacts were being loaded when the agent last stopped. A marker file per digest is
// written before a load and removed after it, success or failure; one still there at start-up
// means the load itself stopped the process (most often the kernel's out-of-memory killer).
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SHA256 = /^[0-9a-f]{64}$/;

export class LoadJournal {
  readonly #dir: string;
  /** Digests whose load was under way when the previous run stopped; each is refused once. */
  readonly #crashed: Set<string>;

  private constructor(dir: string, crashed: Set<string>) {
    this.#dir = dir;
    this.#crashed = crashed;
  }

  static async open(dir: string): Promise<LoadJournal> {
    await mkdir(dir, { recursive: true });
    const crashed = new Set((await readdir(dir)).filter((n) => SHA256.test(n)));
    return new LoadJournal(dir, crashed);
  }

  /** True once for a digest the previous run stopped loading; forgets it as it answers. */
  async takeCrashed(sha256: string): Promise<boolean> {
    if (!this.#crashed.delete(sha256)) return false;
    await rm(join(this.#dir, sha256), { force: true });
    return true;
  }

  async begin(sha256: string): Promise<void> {
    if (SHA256.test(sha256)) await writeFile(join(this.#dir, sha256), '');
  }

  async end(sha256: string): Promise<void> {
    if (SHA256.test(sha256)) await rm(join(this.#dir, sha256), { force: true });
  }
}
