import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** One per process (not per Nest app), so two apps in one test process never judge each other dead. */
const BOOT_ID = randomUUID();

export interface ProcessIdentity {
  host: string;
  pid: number;
  boot: string;
}

/** This process as a claim owner: `host/pid/boot`. */
export function currentProcess(): ProcessIdentity {
  return { host: hostname(), pid: process.pid, boot: BOOT_ID };
}

export function formatOwner(owner: ProcessIdentity): string {
  return `${owner.host}/${owner.pid}/${owner.boot}`;
}

export function parseOwner(value: string | null): ProcessIdentity | null {
  if (!value) return null;
  const parts = value.split('/');
  if (parts.length !== 3 || !/^\d+$/.test(parts[1])) return null;
  return { host: parts[0], pid: Number(parts[1]), boot: parts[2] };
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `owner` is known to be gone, as seen from `self`: only a process on the same host can
 * tell, when the pid no longer runs or now runs another boot (a restart that got the same pid, as
 * pid 1 in a container does). Anything else is judged by its lease alone.
 */
export function ownerGone(
  owner: ProcessIdentity | null,
  self: ProcessIdentity,
  alive: (pid: number) => boolean = pidAlive,
): boolean {
  if (!owner || owner.host !== self.host) return false;
  if (owner.pid === self.pid) return owner.boot !== self.boot;
  return !alive(owner.pid);
}
