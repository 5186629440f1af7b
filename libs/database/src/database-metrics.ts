import { LATENCY_BUCKETS, ServiceMetrics } from '@app/common';
import { Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';

/**
 * What the database makes requests wait for, in the service's registry: on SQLite the time a
 * write waits for the `WriteLock`; on PostgreSQL the pool's connections and the clients queued
 * for one, read from pg's counters when Prometheus scrapes.
 */
@Injectable()
export class DatabaseMetrics {
  private readonly lockWait: Histogram;

  constructor(metrics: ServiceMetrics, dataSource: DataSource) {
    const registers = [metrics.registry];
    this.lockWait = new Histogram({
      name: 'db_write_lock_wait_seconds',
      help: 'Time a write waited for the SQLite write lock before it started (SQLite only)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    if (dataSource.options.type !== 'postgres') return;
    const pool = (): Pool | undefined => (dataSource.driver as unknown as { master?: Pool }).master;
    new Gauge({
      name: 'db_pool_waiting_clients',
      help: 'Queries waiting for a free connection of the PostgreSQL pool',
      registers,
      collect() {
        this.set(pool()?.waitingCount ?? 0);
      },
    });
    new Gauge({
      name: 'db_pool_connections',
      help: 'Open connections of the PostgreSQL pool, by state',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const current = pool();
        const total = current?.totalCount ?? 0;
        const idle = current?.idleCount ?? 0;
        this.labels('idle').set(idle);
        this.labels('busy').set(total - idle);
      },
    });
  }

  /** Records how long one write waited for the write lock. */
  lockWaited(seconds: number): void {
    this.lockWait.observe(seconds);
  }
}
