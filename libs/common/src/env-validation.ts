import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { resolveFileSecrets } from './file-secrets';

export interface ValidateEnvOptions {
  /** Variables that may instead be given as a file path in `<NAME>_FILE` (Docker secrets). */
  fileSecrets?: readonly string[];
}

/**
 * Validates environment variables against a class-validator schema whose property names are the
 * variable names. A bad or missing variable throws an error that names it, which stops the app at start.
 * Call it inside a config factory (`registerAs`), never at import time.
 */
export function validateEnv<T extends object>(
  schema: new () => T,
  env: NodeJS.ProcessEnv = process.env,
  options: ValidateEnvOptions = {},
): T {
  if (options.fileSecrets) env = resolveFileSecrets(env, options.fileSecrets);
  const known = Object.keys(new schema());
  const present: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    if (value !== undefined && value !== '') present[key] = value;
  }
  const instance = plainToInstance(schema, present, { enableImplicitConversion: true });
  const errors = validateSync(instance);
  if (errors.length > 0) {
    const problems = errors.flatMap((e) =>
      Object.values(e.constraints ?? {}).map((m) => `${e.property}: ${m}`),
    );
    throw new Error(`Invalid configuration: ${problems.join('; ')}`);
  }
  return instance;
}
