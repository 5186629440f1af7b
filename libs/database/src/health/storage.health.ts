import { isStorageUnavailable } from '@app/common';
import { Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { randomBytes } from 'node:crypto';
import { WriteLock } from '../write-lock';
import { StorageProbe } from './storage-probe.entity';

/** A probe's answer is reused this long, so frequent health checks cost one small write. */
const STORAGE_PROBE_CACHE_MS = 1_000;
/** About the size of a real write, so that a nearly full disk fails the probe as it fails writes. */
const PROBE_BYTES = 8_192;

interface ProbeResult {
  at: number;
  writable: boolean;
  error?: string;
}

/**
 * Whether the database takes writes: a committed insert and delete of an 8 KiB row, at most once
 * a second. A ping answers even when the disk is full or the database is read-only; this does not.
 */
@Injectable()
export class StorageHealthIndicator {
  private readonly logger = new Logger(StorageHealthIndicator.name);
  private last?: ProbeResult;
  private running?: Promise<ProbeResult>;

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly writeLock: WriteLock,
  ) {}

  async check() {
    const result = await this.probe();
    const session = this.indicators.check('storage');
    return result.writable
      ? session.up({ writable: true })
      : session.down({ writable: false, error: result.error });
  }

  private probe(): Promise<ProbeResult> {
    if (this.last && Date.now() - this.last.at < STORAGE_PROBE_CACHE_MS) {
      return Promise.resolve(this.last);
    }
    this.running ??= this.write().finally(() => (this.running = undefined));
    return this.running;
  }

  private async write(): Promise<ProbeResult> {
    const wasWritable = this.last?.writable ?? true;
    let result: ProbeResult;
    try {
      await this.writeLock.transaction(async (manager) => {
        const row = await manager.insert(StorageProbe, {
          payload: randomBytes(PROBE_BYTES / 2).toString('hex'),
        });
        await manager.delete(StorageProbe, { id: (row.identifiers[0] as { id: number }).id });
      });
      result = { at: Date.now(), writable: true };
    } catch (err) {
      if (!isStorageUnavailable(err)) throw err;
      result = { at: Date.now(), writable: false, error: (err as Error).message };
    }
    if (wasWritable !== result.writable) {
      if (result.writable) this.logger.log({ msg: 'database takes writes again; ready' });
      else
        this.logger.error({ msg: 'database cannot take writes; not ready', error: result.error });
    }
    this.last = result;
    return result;
  }
}
