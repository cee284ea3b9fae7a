import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover } from './discover.ts';
import { isOverrideFileError, parseOverride, readOverride } from './override.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

/** Runs `fn` and returns the error it throws, so rows can assert on its fields. */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

describe('override file errors name the field', () => {
  const rows = [
    { name: 'unknown top-level key', yaml: 'acelerators: []', path: '(root)', message: /acelerators/ },
    { name: 'negative tops', yaml: 'accelerators:\n  - id: cpu0\n    tops: { int8: -1 }', path: 'accelerators.0.tops.int8', message: />=0/ },
    { name: 'unknown accelerator type', yaml: 'accelerators:\n  - id: x0\n    type: QPU', path: 'accelerators.0.type', message: /CPU/ },
    { name: 'battery over 100', yaml: 'power: { source: battery, batteryPercent: 120 }', path: 'power.batteryPercent', message: /100/ },
    { name: 'unknown link type', yaml: 'network: { type: satellite }', path: 'network.type', message: /cellular-5g/ },
    { name: 'not YAML', yaml: 'accelerators: [', path: '(root)', message: /not valid YAML/ },
    { name: 'not a mapping', yaml: '- 1\n- 2', path: '(root)', message: /object/ },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const err = await caught(() => parseOverride(row.yaml, 'override.yaml'));
      expect(isOverrideFileError(err)).toBe(true);
      if (!isOverrideFileError(err)) return;
      expect(err.code).toBe('INVALID_OVERRIDE');
      expect(err.issues[0]?.path).toBe(row.path);
      expect(err.issues[0]?.message).toMatch(row.message);
      expect(err.message).toContain('override file override.yaml');
    });
  }
});

describe('override file applied to a fixture', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ep-override-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('corrects, adds and removes accelerators and declares power and link', async () => {
    const file = join(dir, 'ok.yaml');
    await writeFile(
      file,
      [
        'accelerators:',
        '  - id: npu0',
        '    tops: { int8: 22 }',
        '  - id: fpga0',
        '    type: FPGA',
        '    memoryMiB: 4096',
        '    precisions: [int8]',
        '    tops: { int8: 2 }',
        'remove: [npu1]',
        'power: { source: solar, batteryPercent: 55 }',
        'network: { type: cellular-5g }',
        'labels: { site: depot-7 }',
      ].join('\n'),
    );
    const found = await discover({ root: fixture('jetson-agx-xavier'), overrideFile: file });
    expect(found.accelerators.map((a) => a.id)).toEqual(['cpu0', 'gpu0', 'npu0', 'fpga0']);
    expect(found.accelerators.find((a) => a.id === 'npu0')?.tops).toEqual({ fp16: 2.5, int8: 22 });
    expect(found.power).toEqual({ source: 'solar', batteryPercent: 55 });
    expect(found.network).toMatchObject({ type: 'cellular-5g', metered: true });
    expect(found.override?.labels).toEqual({ site: 'depot-7' });
  });

  it('a new accelerator missing required fields is refused with its index', async () => {
    const file = join(dir, 'incomplete.yaml');
    await writeFile(file, 'accelerators:\n  - id: fpga0\n    type: FPGA\n');
    const err = await caught(() => discover({ root: fixture('x86-vnni-server'), overrideFile: file }));
    expect(isOverrideFileError(err) && err.issues.map((i) => i.path)).toEqual(['accelerators.0.memoryMiB', 'accelerators.0.precisions']);
  });

  it('a missing file is a typed error', async () => {
    const err = await caught(() => readOverride(join(dir, 'absent.yaml')));
    expect(isOverrideFileError(err) && err.issues[0]?.message).toBe('cannot read: ENOENT');
  });
});
