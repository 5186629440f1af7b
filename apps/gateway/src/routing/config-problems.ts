import type { ErrorObject } from 'ajv';
import type { ConfigFormat } from './gateway-config.formats';

/** The part of a schema node that a message is made from. */
interface SchemaNode {
  readonly type?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly enum?: readonly unknown[];
  readonly properties?: Record<string, unknown>;
  readonly anyOf?: readonly SchemaNode[];
  readonly errorMessage?: string;
}

/**
 * One line per problem that the schema validator found, `path: message`, in the schema's order:
 * `services[1].retry.attempts: must be an integer from 1 to 10, got "three"`. Needs the errors of
 * a validator compiled with `allErrors` and `verbose` (each error carries its value and schema).
 */
export function schemaProblems(
  errors: readonly ErrorObject[],
  formats: Readonly<Record<string, ConfigFormat>>,
): string[] {
  const lines: string[] = [];
  const firstRequired = new Map<string, number>();
  for (const error of withoutFollowUps(withoutUnchosenBranches(errors))) {
    const line = problemLine(error, formats);
    if (lines.includes(line)) continue;
    if (error.keyword === 'required' && !firstRequired.has(error.instancePath)) {
      firstRequired.set(error.instancePath, lines.length);
    }
    // An unknown key before the missing ones of its object: the typo next to what it meant.
    const before =
      error.keyword === 'additionalProperties' && firstRequired.get(error.instancePath);
    if (typeof before === 'number') {
      lines.splice(before, 0, line);
      for (const [key, index] of firstRequired) {
        if (index >= before) firstRequired.set(key, index + 1);
      }
    } else {
      lines.push(line);
    }
  }
  return lines;
}

/** A value of the wrong type, or empty, gets that one message: not also its pattern's or format's. */
function withoutFollowUps(errors: readonly ErrorObject[]): ErrorObject[] {
  const basic = (error: ErrorObject) => error.keyword === 'type' || error.keyword === 'minLength';
  const wrong = new Set(errors.filter(basic).map((error) => error.instancePath));
  return errors.filter((error) => basic(error) || !wrong.has(error.instancePath));
}

/**
 * The errors of an `anyOf` that no branch matched, reduced to those of the branch the value was
 * meant for (an object's errors for an object, a list's for a list, a string's for a string);
 * otherwise the one error of the `anyOf`, whose message names the choices.
 */
function withoutUnchosenBranches(errors: readonly ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  for (const choice of errors.filter((e) => e.keyword === 'anyOf')) {
    const branches = (choice.schema ?? []) as readonly SchemaNode[];
    const type = jsonType(choice.data);
    const chosen =
      type === 'object' || type === 'array' || type === 'string'
        ? branches.findIndex((branch) => branch.type === type)
        : -1;
    const inside = errors.filter(
      (e) =>
        e !== choice &&
        e.schemaPath.startsWith(`${choice.schemaPath}/`) &&
        e.instancePath.startsWith(choice.instancePath),
    );
    for (const error of inside) {
      if (chosen < 0 || !error.schemaPath.startsWith(`${choice.schemaPath}/${chosen}/`)) {
        dropped.add(error);
      }
    }
    if (chosen >= 0) dropped.add(choice);
  }
  return errors.filter((e) => !dropped.has(e));
}

function problemLine(error: ErrorObject, formats: Readonly<Record<string, ConfigFormat>>): string {
  const path = fieldPath(error.instancePath);
  const schema = (error.parentSchema ?? {}) as SchemaNode;
  switch (error.keyword) {
    case 'required': {
      const key = (error.params as { missingProperty: string }).missingProperty;
      return `${at(path, key)}: is required`;
    }
    case 'additionalProperties': {
      const key = (error.params as { additionalProperty: string }).additionalProperty;
      const near = nearestKey(key, Object.keys(schema.properties ?? {}));
      return `${at(path, key)}: ${near ? `unknown key (did you mean ${near}?)` : 'unknown key'}`;
    }
    case 'not':
      return `${path || '(root)'}: ${schema.errorMessage ?? 'is not allowed'}`;
    default:
      return `${path || '(root)'}: ${valueProblem(error, schema, formats)}${got(error.data)}`;
  }
}

/** What a value should have been, in the words of its schema. */
function valueProblem(
  error: ErrorObject,
  schema: SchemaNode,
  formats: Readonly<Record<string, ConfigFormat>>,
): string {
  switch (error.keyword) {
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'minLength':
      return expected(schema);
    case 'format': {
      const format = formats[(error.params as { format: string }).format];
      if (format?.problem && typeof error.data === 'string') return format.problem(error.data);
      break;
    }
    case 'enum':
      return schema.errorMessage ?? expected(schema);
  }
  return schema.errorMessage ?? `must ${error.message ?? 'be valid'}`;
}

function expected(schema: SchemaNode): string {
  switch (schema.type) {
    case 'integer':
      return schema.minimum !== undefined && schema.maximum !== undefined
        ? `must be an integer from ${schema.minimum} to ${schema.maximum}`
        : 'must be an integer';
    case 'boolean':
      return 'must be true or false';
    case 'string':
      if (schema.enum) return `must be ${schema.enum.join(' or ')}`;
      return (schema.minLength ?? 0) > 0 ? 'must be a non-empty string' : 'must be a string';
    case 'array':
      return 'must be a list';
    case 'object':
      return 'must be an object';
    default:
      return schema.errorMessage ?? `must be ${schema.type ?? 'valid'}`;
  }
}

/** `services[0].targets[1]` for the JSON pointer `/services/0/targets/1`. */
function fieldPath(pointer: string): string {
  let path = '';
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path = /^\d+$/.test(key) ? `${path}[${key}]` : at(path, key);
  }
  return path;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** `, got "abc"`: the value a problem is about, short; nothing for a missing one. */
export function got(value: unknown): string {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? typeof value);
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return typeof value === 'string' ? `, got "${shown}"` : `, got ${shown}`;
}

/** The allowed key a typo most likely meant: at most two edits away (case ignored), else none. */
export function nearestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

export function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
