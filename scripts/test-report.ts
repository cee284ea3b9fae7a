// Summarises vitest's JSON report. Failed tests alone undercount: a file that fails to import,
// or whose beforeAll throws, has no failed test (its tests are skipped or never collected) and
// shows only as a failed file with a message.

export interface AssertionResult {
  title: string;
  status: string;
}

export interface FileResult {
  name: string;
  status: string;
  message?: string;
  assertionResults: AssertionResult[];
}

export interface VitestJsonReport {
  numTotalTestSuites: number;
  numFailedTestSuites: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  success: boolean;
  testResults: FileResult[];
}

/** A file that failed outside any test: import error, throwing hook, collection error. */
export interface FileError {
  file: string;
  message: string;
}

export interface TestSummary {
  passed: number;
  failed: number;
  skipped: number;
  files: number;
  failedFiles: number;
  failedSuites: number;
  errors: FileError[];
  /** vitest exited non-zero with nothing above to show for it (an unhandled error, a crash). */
  unexplainedExit: number | null;
  ok: boolean;
}

export class TestReportError extends Error {
  override readonly name = 'TestReportError';
  readonly code: 'REPORT_INVALID';
  constructor(code: 'REPORT_INVALID', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

function num(r: Record<string, unknown>, field: string): number {
  const v = r[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TestReportError('REPORT_INVALID', `report field ${field} is not a number`);
  return v;
}

/** Checks the fields the summary reads; anything else in the report is ignored. */
export function parseReport(raw: unknown): VitestJsonReport {
  if (typeof raw !== 'object' || raw === null) throw new TestReportError('REPORT_INVALID', 'report is not an object');
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r.testResults)) throw new TestReportError('REPORT_INVALID', 'report field testResults is not an array');
  const testResults = r.testResults.map((f: unknown, i): FileResult => {
    const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    if (typeof o.name !== 'string' || typeof o.status !== 'string' || !Array.isArray(o.assertionResults)) {
      throw new TestReportError('REPORT_INVALID', `report field testResults[${i}] lacks name, status or assertionResults`);
    }
    return {
      name: o.name,
      status: o.status,
      // vitest writes `message`; Jest-shaped reports (and older vitest) `failureMessage`.
      message: typeof o.message === 'string' && o.message !== '' ? o.message : typeof o.failureMessage === 'string' ? o.failureMessage : '',
      assertionResults: o.assertionResults.map((a: unknown) => {
        const ao = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
        return { title: String(ao.title ?? ''), status: String(ao.status ?? '') };
      }),
    };
  });
  return {
    numTotalTestSuites: num(r, 'numTotalTestSuites'),
    numFailedTestSuites: num(r, 'numFailedTestSuites'),
    numPassedTests: num(r, 'numPassedTests'),
    numFailedTests: num(r, 'numFailedTests'),
    numPendingTests: num(r, 'numPendingTests'),
    numTodoTests: num(r, 'numTodoTests'),
    success: r.success === true,
    testResults,
  };
}

/** vitestExit: vitest's exit status when known; unhandled errors reach only that, not the report. */
export function summarise(r: VitestJsonReport, vitestExit: number | null = null): TestSummary {
  const failedFiles = r.testResults.filter((f) => f.status === 'failed');
  const errors = failedFiles
    .filter((f) => !f.assertionResults.some((a) => a.status === 'failed'))
    .map((f) => ({ file: f.name, message: f.message || 'failed with no failed test and no message' }));
  const counted = r.numFailedTests + failedFiles.length + r.numFailedTestSuites + errors.length;
  // No files at all is a failure too: the include pattern matched nothing.
  const reportFailed = !r.success || r.testResults.length === 0;
  const unexplainedExit = vitestExit !== null && vitestExit !== 0 && counted === 0 ? vitestExit : null;
  return {
    passed: r.numPassedTests,
    failed: r.numFailedTests,
    skipped: r.numPendingTests + r.numTodoTests,
    files: r.testResults.length,
    failedFiles: failedFiles.length,
    failedSuites: r.numFailedTestSuites,
    errors,
    unexplainedExit,
    ok: counted === 0 && !reportFailed && unexplainedExit === null,
  };
}

/** Lines to print; the first keeps the "tests: N passed, N failed" shape a CI greps for. */
export function formatSummary(s: TestSummary, relativeTo = ''): string[] {
  const rel = (p: string) => (relativeTo && p.startsWith(relativeTo) ? p.slice(relativeTo.length).replace(/^\//, '') : p);
  const head =
    `tests: ${s.passed} passed, ${s.failed} failed` +
    (s.skipped ? `, ${s.skipped} skipped` : '') +
    `; files: ${s.failedFiles} of ${s.files} failed; suites: ${s.failedSuites} failed; errors: ${s.errors.length}` +
    (s.unexplainedExit !== null ? `; vitest exited ${s.unexplainedExit} (an error outside any test, see its output above)` : '') +
    (s.files === 0 ? '; no test file ran' : '');
  const lines = [head];
  for (const e of s.errors) lines.push(`error: ${rel(e.file)}: ${e.message.split('\n')[0]}`);
  return lines;
}
