import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { resolveFileSecrets } from './file-secrets';

export interface ValidateEnvOptions {
  /** Variables that may instead be given as a file path in `<NAME>_FILE` (Docker secrets). */
  fileSecrets?: readonly string[];
}

/** Every configuration error's message starts so; the app reports it once and exits 1. */
const CONFIGURATION_ERROR_PREFIX = 'Invalid configuration:';

/** A bad setting found at start; its message names the variable and what it must be. */
export class ConfigurationError extends Error {
  constructor(problem: string) {
    super(`${CONFIGURATION_ERROR_PREFIX} ${problem}`);
    this.name = 'ConfigurationError';
  }
}

/** Whether `err` reports a bad setting (the gateway's config loaders throw plain errors with the prefix). */
export function isConfigurationError(err: unknown): err is Error {
  return (
    err instanceof ConfigurationError ||
    (err instanceof Error && err.message.startsWith(CONFIGURATION_ERROR_PREFIX))
  );
}

/** Values of these are never echoed in an error. */
const SECRET_NAME = /SECRET|PASSWORD|PRIVATE_KEY|API_KEY|(^|_)TOKEN$/;

/** A failed type check makes the range checks of the same value meaningless. */
const TYPE_CONSTRAINTS = ['isInt', 'isNumber', 'isBoolean', 'isString', 'isIn', 'isEnum', 'isUrl'];

/**
 * Validates environment variables against a class-validator schema whose property names are the
 * variable names. A bad or missing variable throws a `ConfigurationError` that names it and its
 * value once, which stops the app at start. Call it inside a config factory (`registerAs`), never
 * at import time.
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
    throw new ConfigurationError(errors.map((e) => describe(e, present[e.property])).join('; '));
  }
  return instance;
}

/** `PORT="abc": must be an integer number`: one constraint per variable, the most basic first. */
function describe(error: ValidationError, raw: string | undefined): string {
  const constraints = error.constraints ?? {};
  const key =
    TYPE_CONSTRAINTS.find((name) => name in constraints) ?? Object.keys(constraints).at(-1);
  const message = key ? constraints[key] : 'is invalid';
  const requirement = message.startsWith(`${error.property} `)
    ? message.slice(error.property.length + 1)
    : message;
  const shown =
    raw === undefined
      ? ' (not set)'
      : SECRET_NAME.test(error.property)
        ? ''
        : `=${JSON.stringify(raw)}`;
  return `${error.property}${shown}: ${requirement}`;
}
