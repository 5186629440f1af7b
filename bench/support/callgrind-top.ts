import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

interface JitRange {
  start: number;
  end: number;
  name: string;
}

/** The JIT code ranges Node writes to `/tmp/perf-<pid>.map` under `--perf-basic-prof`, by start. */
function readPerfMap(file: string): JitRange[] {
  if (!existsSync(file)) return [];
  const ranges: JitRange[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [start, size, ...name] = line.split(' ');
    if (name.length === 0) continue;
    const from = parseInt(start, 16);
    ranges.push({ start: from, end: from + parseInt(size, 16), name: name.join(' ') });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

function jitName(ranges: JitRange[], address: number): string {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid].start <= address) lo = mid + 1;
    else hi = mid - 1;
  }
  const range = ranges[hi];
  return range !== undefined && address < range.end ? `JIT ${range.name}` : 'JIT (unnamed)';
}

/**
 * The `count` functions with the most instructions of their own in one callgrind dump, per
 * request: native ones by their symbols, V8's generated code by the names in the process's perf
 * map (without one, valgrind only knows its addresses).
 */
export function topFunctions(
  dump: string,
  perfMap: string,
  requests: number,
  count: number,
): string[] {
  const ranges = readPerfMap(perfMap);
  const annotated = execFileSync(
    'callgrind_annotate',
    ['--inclusive=no', '--threshold=100', dump],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const own = new Map<string, number>();
  for (const line of annotated.split('\n')) {
    const row = /^\s*([\d,]+)\s+\([^)]*\)\s+(.+)$/.exec(line);
    if (row === null || row[2].includes('PROGRAM TOTALS')) continue;
    const address = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]$/.exec(row[2]);
    const name = address
      ? jitName(ranges, parseInt(address[1], 16))
      : row[2].replace(/^\?\?\?:/, '').replace(/ \[[^\]]*\]$/, '');
    own.set(name, (own.get(name) ?? 0) + Number(row[1].replace(/,/g, '')));
  }
  return [...own]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ir]) => `${(ir / requests).toFixed(0).padStart(8)}  ${name.slice(0, 140)}`);
}
