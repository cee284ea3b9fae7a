// The agent's configuration (flags, environment, YAML file) and the hardware override file
// against arbitrary and hostile input: each returns a value or throws its own typed error
// (ConfigError, OverrideFileError), never anything else, and large or explosive documents
// (a megabyte, deep nesting, an alias bomb) are refused quickly.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isConfigError, parseConfig, SETTINGS } from './config.ts';
import { isOverrideFileError, parseOverride } from './hardware/override.ts';

// Random text is full of unknown YAML tags (`!x`), each a process warning: keep the output readable.
beforeAll(() => void vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined));
afterAll(() => vi.restoreAllMocks());

/** Runs `fn`; a throw other than the expected typed error fails the property. */
function typedOrValue(fn: () => unknown, isTyped: (err: unknown) => boolean): void {
  try {
    fn();
  } catch (err) {
    if (!isTyped(err)) throw err;
  }
}

const parseFile = (text: string) => parseConfig({ argv: ['-c', '/agent.yaml'], env: {}, readFile: () => text });

const settingKeys = SETTINGS.map((s) => s.key);
/** YAML documents shaped like a config file: known and unknown keys, any scalar or nesting. */
const configDoc = fc
  .dictionary(fc.oneof(fc.constantFrom(...settingKeys), fc.string({ maxLength: 12 })), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 })
  .map((d) => JSON.stringify(d));

const aliasBomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');

const hostileDocs = [
  `node: ${'n'.repeat(2 ** 20)}\n`,
  `fileRoots: [${Array.from({ length: 100_000 }, (_, i) => `/r${i}`).join(',')}]\n`,
  `${'['.repeat(50_000)}${']'.repeat(50_000)}\n`,
  `${Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')} x\n`,
  aliasBomb,
  '\u0000\u0001\u0002',
  // Just under the 32 KiB limit: the worst shapes for the YAML parser that still get parsed.
  `labels: {${Array.from({ length: 3000 }, (_, i) => `k${i}: v`).join(', ')}}\n`.slice(0, 32_000),
  `labels:\n${Array.from({ length: 2900 }, (_, i) => `  k${i}: v`).join('\n')}\n`.slice(0, 32_000),
  `${'['.repeat(16_000)}${']'.repeat(16_000)}\n`,
];

describe('agent config parsing (fuzzed)', () => {
  it('arbitrary text as the config file: a config or a ConfigError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => typedOrValue(() => parseFile(text), isConfigError)),
      { numRuns: 300 },
    );
  });

  it('documents with known and unknown keys and any values: a config or a ConfigError', () => {
    fc.assert(
      fc.property(configDoc, (text) => typedOrValue(() => parseFile(text), isConfigError)),
      { numRuns: 300 },
    );
  });

  it('arbitrary flags and environment values: a config or a ConfigError', () => {
    const env = fc.dictionary(fc.constantFrom(...SETTINGS.map((s) => s.env)), fc.string({ maxLength: 40 }), { maxKeys: 5 });
    const argv = fc.array(fc.oneof(fc.constantFrom(...SETTINGS.map((s) => `--${s.flag}`), '-c', '--help'), fc.string({ maxLength: 20 })), { maxLength: 8 });
    fc.assert(
      fc.property(argv, env, (a, e) => typedOrValue(() => parseConfig({ argv: a, env: e, readFile: () => '' }), isConfigError)),
      { numRuns: 300 },
    );
  });

  it('megabyte, deeply nested and alias-bomb files are refused, and the worst files under the limit parsed, quickly', () => {
    const started = performance.now();
    for (const text of hostileDocs) typedOrValue(() => parseFile(text), isConfigError);
    expect(performance.now() - started).toBeLessThan(8000);
  });
});

describe('hardware override parsing (fuzzed)', () => {
  const overrideDoc = fc
    .record(
      {
        accelerators: fc.array(fc.dictionary(fc.constantFrom('id', 'type', 'memoryMiB', 'precisions', 'tops', 'features', 'x'), fc.jsonValue({ maxDepth: 2 })), { maxLength: 4 }),
        remove: fc.jsonValue({ maxDepth: 2 }),
        power: fc.jsonValue({ maxDepth: 2 }),
        network: fc.jsonValue({ maxDepth: 2 }),
        labels: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    )
    .map((d) => JSON.stringify(d));

  it('arbitrary text: an override or an OverrideFileError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => typedOrValue(() => parseOverride(text, '/o.yaml'), isOverrideFileError)),
      { numRuns: 300 },
    );
  });

  it('override-shaped documents with any values: an override or an OverrideFileError', () => {
    fc.assert(
      fc.property(overrideDoc, (text) => typedOrValue(() => parseOverride(text, '/o.yaml'), isOverrideFileError)),
      { numRuns: 300 },
    );
  });

  it('megabyte, deeply nested and alias-bomb files are refused, and the worst files under the limit parsed, quickly', () => {
    const docs = [...hostileDocs, `labels: {${Array.from({ length: 50_000 }, (_, i) => `k${i}: v`).join(', ')}}\n`, `accelerators: [${'{id: x, type: CPU},'.repeat(50_000)}]\n`];
    const started = performance.now();
    for (const text of docs) typedOrValue(() => parseOverride(text, '/o.yaml'), isOverrideFileError);
    expect(performance.now() - started).toBeLessThan(8000);
  });
});
