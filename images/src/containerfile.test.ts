import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYER_FILES, parseContainerfile, renderContainerfile } from './containerfile.ts';
import { ENV, IMAGE_NAMES, SPECS, USER } from './specs.ts';

const dir = join(import.meta.dirname, '..', 'containerfiles');

describe('Containerfiles', () => {
  it.each(IMAGE_NAMES)('the committed %s Containerfile is the one the specs give', (name) => {
    expect(readFileSync(join(dir, `${name}.Containerfile`), 'utf8')).toBe(renderContainerfile(SPECS[name]));
  });

  it('reads back the configuration it was written from', () => {
    const spec = SPECS['redis-server'];
    const parsed = parseContainerfile(renderContainerfile(spec), { VERSION: '7.0.15', REVISION: 'abc', CREATED: '2026-01-01T00:00:00Z' });
    expect(parsed.from).toBe('scratch');
    expect(parsed.adds.map((a) => a.source)).toEqual([...LAYER_FILES]);
    expect(parsed.entrypoint).toEqual(spec.entrypoint);
    expect(parsed.user).toBe(USER);
    expect(parsed.env).toEqual([...ENV]);
    expect(parsed.workdir).toBe('/data');
    expect(parsed.expose).toEqual(['6379/tcp']);
    expect(parsed.labels['org.opencontainers.image.version']).toBe('7.0.15');
    expect(parsed.labels['org.opencontainers.image.description']).toBe("Redis from Debian 12's packages.");
  });

  it('refuses instructions it does not know and arguments without a value', () => {
    expect(() => parseContainerfile('FROM scratch\nRUN true\n', {})).toThrow(/line 2: instruction RUN/);
    expect(() => parseContainerfile('LABEL a="${X}"\n', {})).toThrow(/build argument X has no value/);
  });
});
