import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Linux clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function ownCpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds (user + system, every thread) used so far by a process and its live descendants,
 * e.g. an nginx master and its worker; null where /proc is not readable (off Linux).
 */
export function treeCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    let ticks = ownCpuTicks(pid);
    for (const child of childPids(pid)) ticks += (treeCpuSeconds(child) ?? 0) * CLOCK_TICKS;
    return ticks / CLOCK_TICKS;
  } catch {
    return null;
  }
}
