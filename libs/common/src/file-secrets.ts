import { readFileSync } from 'node:fs';

/**
 * Reads a secret from a file (a Docker secret under `/run/secrets`, a mounted key), without the one
 * trailing newline that `echo` and most editors add. An unreadable file is a configuration error
 * naming `variable` and the path.
 */
export function readSecretFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(
      `Invalid configuration: ${variable}: cannot read ${path} (${(err as Error).message})`,
    );
  }
}

/**
 * Returns a copy of `env` in which each variable `X` of `names` whose `X_FILE` is set holds the
 * content of that file (see `readSecretFile`). Setting both `X` and `X_FILE` is a configuration
 * error naming both, so a forgotten plain value never silently wins over the secret.
 */
export function resolveFileSecrets(
  env: NodeJS.ProcessEnv,
  names: readonly string[],
): NodeJS.ProcessEnv {
  const resolved = { ...env };
  for (const name of names) {
    const fileVariable = `${name}_FILE`;
    const path = env[fileVariable];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      throw new Error(`Invalid configuration: ${name}: set ${name} or ${fileVariable}, not both`);
    }
    resolved[name] = readSecretFile(fileVariable, path);
  }
  return resolved;
}
