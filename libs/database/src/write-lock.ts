import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DatabaseMetrics } from './database-metrics';

/**
 * better-sqlite3 gives TypeORM one connection for the whole process, so a statement sent while
 * another request's transaction is open runs inside it (and a second transaction nests as a
 * savepoint). On SQLite the writes of this service queue here, one at a time, which SQLite
 * imposes anyway; on PostgreSQL every transaction has its own pooled connection and this is a
 * pass-through. The time each write waits here is recorded in `DatabaseMetrics`.
 */
@Injectable()
export class WriteLock {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly serial: boolean;

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: DatabaseMetrics,
  ) {
    this.serial = dataSource.options.type !== 'postgres';
  }

  /** Runs `work` alone among the writes of this process (on SQLite). Never call it from inside `work`. */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (!this.serial) return work();
    const queued = process.hrtime.bigint();
    const result = this.tail.then(() => {
      this.metrics.lockWaited(Number(process.hrtime.bigint() - queued) / 1e9);
      return work();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** One database transaction, alone among the writes of this process (on SQLite). */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.run(() => this.dataSource.transaction(work));
  }
}
