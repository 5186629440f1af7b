import { DynamicModule, Inject, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { TypeOrmModule, TypeOrmModuleOptions } from '@nestjs/typeorm';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DataSource, MigrationInterface } from 'typeorm';
import { databaseConfig } from './database.config';
import { DatabaseMetrics } from './database-metrics';
import { prepareSchema, SeedFunction } from './migrations';
import { WriteLock } from './write-lock';

export interface DatabaseModuleOptions {
  /** SQLite file used when neither `DATABASE_URL` nor `DATABASE_PATH` is set, under `./data`. */
  defaultFile: string;
  /** Migration classes of the service, in order. */
  migrations: Array<new () => MigrationInterface>;
  /** First rows for an empty database, applied under the schema lock when seeding is on. */
  seed?: SeedFunction;
}

const DATABASE_MODULE_OPTIONS = Symbol('DATABASE_MODULE_OPTIONS');

/** SQLite waits this long for a lock held by another replica sharing the file. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

function databaseOptions(
  config: ConfigType<typeof databaseConfig>,
  options: DatabaseModuleOptions,
): TypeOrmModuleOptions {
  const common = {
    autoLoadEntities: true,
    synchronize: false,
    migrationsRun: false,
    migrations: options.migrations,
  } as const;
  if (config.url) {
    return { ...common, type: 'postgres', url: config.url, extra: { max: 10 } };
  }
  const database = config.path ?? `data/${options.defaultFile}`;
  if (database !== ':memory:') mkdirSync(dirname(resolve(database)), { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database,
    enableWAL: database !== ':memory:',
    timeout: SQLITE_BUSY_TIMEOUT_MS,
  };
}

/** Brings the schema up to date (and seeds an empty database) before the app starts serving. */
@Injectable()
class SchemaPreparer implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(databaseConfig.KEY) private readonly config: ConfigType<typeof databaseConfig>,
    @Inject(DATABASE_MODULE_OPTIONS) private readonly options: DatabaseModuleOptions,
  ) {}

  onModuleInit(): Promise<void> {
    return prepareSchema(this.dataSource, this.config.seed ? this.options.seed : undefined);
  }
}

/**
 * TypeORM over SQLite (WAL, busy timeout) by default, or PostgreSQL when `DATABASE_URL` is set.
 * Migrations run at start under a lock, so replicas starting together apply them once. Needs
 * `ServiceMetricsModule`: the lock's waits and the pool's queue are recorded in its registry.
 */
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    return {
      module: DatabaseModule,
      // One WriteLock per app: two would each let a write into the other's open transaction.
      global: true,
      imports: [
        ConfigModule.forFeature(databaseConfig),
        TypeOrmModule.forRootAsync({
          imports: [ConfigModule.forFeature(databaseConfig)],
          inject: [databaseConfig.KEY],
          useFactory: (config: ConfigType<typeof databaseConfig>) =>
            databaseOptions(config, options),
        }),
      ],
      providers: [
        { provide: DATABASE_MODULE_OPTIONS, useValue: options },
        SchemaPreparer,
        DatabaseMetrics,
        WriteLock,
      ],
      exports: [WriteLock],
    };
  }
}
