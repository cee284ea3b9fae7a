// Prints vitest's JSON report as the one closing line any CI reads: "tests: N passed, N failed".
import { readFileSync } from 'node:fs';

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
}

const file = process.argv[2];
if (!file) throw new Error('usage: test-summary <vitest-json-report>');
const r = JSON.parse(readFileSync(file, 'utf8')) as Report;
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
