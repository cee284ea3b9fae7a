import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary, parseReport, summarise, TestReportError, type VitestJsonReport } from './test-report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');

function report(over: Partial<VitestJsonReport>): VitestJsonReport {
  return {
    numTotalTestSuites: 1,
    numFailedTestSuites: 0,
    numPassedTests: 1,
    numFailedTests: 0,
    numPendingTests: 0,
    numTodoTests: 0,
    success: true,
    testResults: [{ name: '/r/a.test.ts', status: 'passed', message: '', assertionResults: [{ title: 't', status: 'passed' }] }],
    ...over,
  };
}

describe('summarise', () => {
  const rows: { name: string; input: VitestJsonReport; exit?: number; want: { ok: boolean; failedFiles: number; errors: number } }[] = [
    { name: 'all passed', input: report({}), want: { ok: true, failedFiles: 0, errors: 0 } },
    {
      name: 'a file that failed to import has no failed test but fails',
      input: report({
        numFailedTestSuites: 1,
        success: false,
        testResults: [{ name: '/r/b.test.ts', status: 'failed', message: 'Cannot find module', assertionResults: [] }],
      }),
      want: { ok: false, failedFiles: 1, errors: 1 },
    },
    {
      name: 'a throwing beforeAll leaves its tests skipped but fails',
      input: report({
        numFailedTestSuites: 1,
        numPassedTests: 0,
        numPendingTests: 1,
        success: false,
        testResults: [{ name: '/r/c.test.ts', status: 'failed', message: 'setup broke', assertionResults: [{ title: 't', status: 'skipped' }] }],
      }),
      want: { ok: false, failedFiles: 1, errors: 1 },
    },
    { name: 'no test file ran', input: report({ success: false, testResults: [] }), want: { ok: false, failedFiles: 0, errors: 0 } },
    { name: 'vitest exited non-zero with a clean report (unhandled error)', input: report({}), exit: 1, want: { ok: false, failedFiles: 0, errors: 0 } },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const s = summarise(row.input, row.exit ?? null);
      expect({ ok: s.ok, failedFiles: s.failedFiles, errors: s.errors.length }).toEqual(row.want);
    });
  }

  it('reads a Jest-shaped failureMessage as the file\'s error', () => {
    const raw = { ...report({ numFailedTestSuites: 1, success: false }), testResults: [{ name: '/r/d.test.ts', status: 'failed', failureMessage: 'SyntaxError', assertionResults: [] }] };
    expect(summarise(parseReport(raw)).errors).toEqual([{ file: '/r/d.test.ts', message: 'SyntaxError' }]);
  });

  it('names a missing field', () => {
    const bad = { ...report({}), numFailedTestSuites: 'x' };
    expect(() => parseReport(bad)).toThrowError(TestReportError);
    expect(() => parseReport(bad)).toThrowError(/numFailedTestSuites/);
  });
});

// A real report from a fixture suite with one passing, one failing, one import-error and one
// hook-error file: the figures the old summary printed ("1 passed, 1 failed") hid two broken files.
describe('summarise on a real vitest report', () => {
  let dir: string;
  let raw: unknown;
  let exit: number | null;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'test-report-'));
    const out = join(dir, 'report.json');
    const run = spawnSync(
      process.execPath,
      [join(repo, 'node_modules/vitest/vitest.mjs'), 'run', '--root', join(here, 'fixtures/test-summary'), '--reporter=json', `--outputFile.json=${out}`],
      { cwd: repo, encoding: 'utf8', timeout: 60_000 },
    );
    exit = run.status;
    raw = JSON.parse(readFileSync(out, 'utf8'));
  }, 90_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts the failing files, suites and errors, and fails', () => {
    expect(exit).toBe(1);
    const s = summarise(parseReport(raw), exit);
    expect(s).toMatchObject({ passed: 1, failed: 1, skipped: 2, files: 4, failedFiles: 3, failedSuites: 3, ok: false });
    expect(s.errors.map((e) => [e.file.split('/').pop(), e.message]).sort()).toEqual([
      ['hook-error.fixture.ts', 'setup broke'],
      ['import-error.fixture.ts', 'broken at import'],
    ]);
    expect(formatSummary(s)[0]).toBe('tests: 1 passed, 1 failed, 2 skipped; files: 3 of 4 failed; suites: 3 failed; errors: 2');
  });
});
