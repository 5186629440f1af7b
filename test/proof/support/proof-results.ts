import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type Figure = number | string | boolean | null;

/** One proven case and its counted figures, as the report renders them. */
export interface ProofCase {
  name: string;
  figures: Record<string, Figure>;
}

export interface ProofSuiteResult {
  suite: string;
  title: string;
  finishedAt: string;
  node: string;
  cases: ProofCase[];
}

/** Where every proof suite writes its figures; `scripts/render-reliability.mjs` reads them. */
export const RESULTS_DIR = resolve(__dirname, '..', '.results');

/**
 * The figures of one proof suite. Each test records what it counted once its assertions passed,
 * so the file holds only proven cases; `write()` (in `afterAll`) saves them as
 * `test/proof/.results/<suite>.json` and prints them.
 */
export class ProofResults {
  private readonly cases: ProofCase[] = [];

  constructor(
    readonly suite: string,
    readonly title: string,
  ) {}

  record(name: string, figures: Record<string, Figure>): void {
    this.cases.push({ name, figures });
  }

  write(): void {
    if (this.cases.length === 0) return;
    const result: ProofSuiteResult = {
      suite: this.suite,
      title: this.title,
      finishedAt: new Date().toISOString(),
      node: process.version,
      cases: this.cases,
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, `${this.suite}.json`), `${JSON.stringify(result, null, 2)}\n`);
    const lines = this.cases.map(
      (c) =>
        `  ${c.name}: ${Object.entries(c.figures)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(' ')}`,
    );
    process.stdout.write(`\n[proof] ${this.title}\n${lines.join('\n')}\n`);
  }
}

/** The `q`-quantile (0..1) of `values`, nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

export const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;
