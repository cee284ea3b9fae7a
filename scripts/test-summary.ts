// Prints vitest's JSON report as the one closing line any CI reads ("tests: N passed, N failed; files: ...")
// and exits non-zero when a test, file or suite failed, a file errored outside its tests, or the report
// is missing (the caller deletes the previous run's report first, so a stale one is never read).
// usage: test-summary <vitest-json-report> [--vitest-exit <status>]
import { existsSync, readFileSync } from 'node:fs';
import { formatSummary, parseReport, summarise, TestReportError } from './test-report.ts';

function main(argv: string[]): number {
  const file = argv[0];
  if (!file) throw new Error('usage: test-summary <vitest-json-report> [--vitest-exit <status>]');
  const exitAt = argv.indexOf('--vitest-exit');
  const vitestExit = exitAt >= 0 ? Number(argv[exitAt + 1]) : null;
  if (vitestExit !== null && !Number.isInteger(vitestExit)) throw new Error('--vitest-exit takes an integer status');
  if (!existsSync(file)) {
    console.log(`tests: no report at ${file} (vitest wrote none${vitestExit ? `, exited ${vitestExit}` : ''})`);
    return 1;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TestReportError('REPORT_INVALID', `report ${file} is not JSON`, { cause: err });
  }
  const summary = summarise(parseReport(raw), vitestExit);
  for (const line of formatSummary(summary, process.cwd())) console.log(line);
  return summary.ok ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
