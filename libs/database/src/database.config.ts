import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, Matches } from 'class-validator';
import { validateEnv } from '@app/common';

class DatabaseEnv {
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL?: string = undefined;

  @IsOptional()
  @IsString()
  DATABASE_PATH?: string = undefined;

  @IsOptional()
  // Read the raw string: implicit conversion has already turned "false" into true by now.
  @Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) =>
    obj[key] === 'true' ? true : obj[key] === 'false' ? false : obj[key],
  )
  @IsBoolean({ message: 'SEED_DATA must be true or false' })
  SEED_DATA?: boolean = undefined;

  @IsOptional()
  @IsString()
  NODE_ENV?: string = undefined;
}

export interface DatabaseConfig {
  url?: string;
  path?: string;
  /** Whether to insert the development seed rows into an empty database. */
  seed: boolean;
}

const DATABASE_CONFIG = 'database';

/**
 * `DATABASE_URL` or `DATABASE_URL_FILE` (PostgreSQL) wins over `DATABASE_PATH` (SQLite file); neither means the service's
 * default file. Seed rows are on by default except in production.
 */
export const databaseConfig = registerAs(DATABASE_CONFIG, (): DatabaseConfig => {
  // The URL carries the database password, so it may come from a Docker secret (DATABASE_URL_FILE).
  const env = validateEnv(DatabaseEnv, process.env, { fileSecrets: ['DATABASE_URL'] });
  return {
    url: env.DATABASE_URL,
    path: env.DATABASE_PATH,
    seed: env.SEED_DATA ?? env.NODE_ENV !== 'production',
  };
});
