import { ConfigurationError } from '@app/common';
import Ajv, { ValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { schemaProblems } from './config-problems';
import { GatewayConfig, resolveGatewayConfig } from './gateway-config';
import { CONFIG_FORMATS } from './gateway-config.formats';
import { crossFieldProblems } from './gateway-config.rules';
import { GatewayConfigDocument, GatewayConfigSchema } from './gateway-config.schema';
import type { LoadedGatewayConfig } from './routing.tokens';

/** Thrown when the gateway config file is missing, unreadable or invalid; the message names every bad field. */
export class GatewayConfigError extends ConfigurationError {
  override readonly name = 'GatewayConfigError';
}

/** Reads and validates the gateway config (YAML, or JSON for `.json` files). */
export function loadGatewayConfig(file: string): GatewayConfig {
  return readGatewayConfig(file).config;
}

/** `loadGatewayConfig`, with the digest of the bytes read (the config's version). */
export function readGatewayConfig(file: string): LoadedGatewayConfig {
  const source = resolve(file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(source);
  } catch (err) {
    throw new GatewayConfigError(
      `gateway config ${source} cannot be read: ${(err as Error).message}`,
    );
  }
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  return { config: parseGatewayConfigText(bytes.toString('utf8'), source), digest };
}

function parseGatewayConfigText(text: string, source: string): GatewayConfig {
  let document: unknown;
  try {
    document = extname(source) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new GatewayConfigError(
      `gateway config ${source} is not valid ${extname(source) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  return parseGatewayConfig(document, source);
}

/** Validates an already parsed config document against the schema and the cross-field rules. */
export function parseGatewayConfig(document: unknown, source = '(inline)'): GatewayConfig {
  const validate = validator();
  const problems = validate(document) ? [] : schemaProblems(validate.errors ?? [], CONFIG_FORMATS);
  problems.push(...crossFieldProblems(document));
  if (problems.length > 0) {
    throw new GatewayConfigError(`gateway config ${source}: ${problems.join('; ')}`);
  }
  return resolveGatewayConfig(document as GatewayConfigDocument, source);
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  compiled ??= compileConfigSchema(GatewayConfigSchema);
  return compiled;
}

/** A validator of the gateway config schema (or its published copy): every error, each with its value and schema. */
export function compileConfigSchema(schema: object): ValidateFunction {
  // strictRequired off: `not: { required: [path, pathPrefix] }` names keys its parent defines.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false });
  ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' });
  for (const [name, format] of Object.entries(CONFIG_FORMATS)) {
    ajv.addFormat(name, { type: 'string', validate: (text: string) => format.accepts(text) });
  }
  return ajv.compile(schema);
}
