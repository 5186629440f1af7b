/**
 * Reads one untyped config document field by field, collecting every problem with the field's
 * path (`services[1].targets[0]: not an http(s) URL`) so that one start-up reports them all.
 */
export class ConfigFields {
  readonly problems: string[] = [];

  report(path: string, message: string): void {
    this.problems.push(`${path || '(root)'}: ${message}`);
  }

  /** The object at `path` with its keys checked against `allowed`; `undefined` when it is not an object. */
  object(
    value: unknown,
    path: string,
    allowed: readonly string[],
  ): Record<string, unknown> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.report(path, 'must be an object');
      return undefined;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (allowed.includes(key)) continue;
      const near = nearestKey(key, allowed);
      this.report(at(path, key), near ? `unknown key (did you mean ${near}?)` : 'unknown key');
    }
    return record;
  }

  array(value: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.report(path, `must be a list${got(value)}`);
      return undefined;
    }
    return value as unknown[];
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value !== 'string' || value.length === 0) {
      this.report(
        path,
        value === undefined ? 'required' : `must be a non-empty string${got(value)}`,
      );
      return undefined;
    }
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.report(path, `must be an integer from ${min} to ${max}${got(value)}`);
      return fallback;
    }
    return value;
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.report(path, `must be true or false${got(value)}`);
      return fallback;
    }
    return value;
  }

  /** A list of strings each accepted by `check`, which returns a problem or `undefined`. */
  strings(
    value: unknown,
    path: string,
    check: (item: string) => string | undefined,
  ): string[] | undefined {
    const list = this.array(value, path);
    if (!list) return undefined;
    const out: string[] = [];
    list.forEach((item, i) => {
      const text = this.string(item, `${path}[${i}]`);
      if (text === undefined) return;
      const problem = check(text);
      if (problem) this.report(`${path}[${i}]`, problem);
      else out.push(text);
    });
    return out;
  }

  /**
   * An optional section of settings: `base` when it is absent or not an object; otherwise what
   * `read` makes of it, each field falling back to its value in `base`.
   */
  section<T extends object>(
    value: unknown,
    path: string,
    keys: readonly (keyof T & string)[],
    base: T,
    read: (fields: SectionFields<T>) => T,
  ): T {
    if (value === undefined) return base;
    const entry = this.object(value, path, keys);
    return entry ? read(new SectionFields(this, entry, path, base)) : base;
  }
}

type KeysOf<T, V> = { [K in keyof T]-?: T[K] extends V ? K : never }[keyof T] & string;

/** The fields of one section, each read with the section's path and its default from `base`. */
export class SectionFields<T extends object> {
  constructor(
    private readonly fields: ConfigFields,
    readonly entry: Record<string, unknown>,
    readonly path: string,
    private readonly base: T,
  ) {}

  integer(key: KeysOf<T, number>, min: number, max: number): number {
    return this.fields.integer(
      this.entry[key],
      at(this.path, key),
      min,
      max,
      this.base[key] as number,
    );
  }

  /** `values`, with a problem reported when its `upper` field is below its `lower` one. */
  ordered(values: T, lower: KeysOf<T, number>, upper: KeysOf<T, number>): T {
    if ((values[upper] as number) < (values[lower] as number)) {
      this.fields.report(at(this.path, upper), `must not be below ${lower}`);
    }
    return values;
  }

  boolean(key: KeysOf<T, boolean>): boolean {
    return this.fields.boolean(this.entry[key], at(this.path, key), this.base[key] as boolean);
  }
}

/** `, got "abc"`: the value a problem is about, short; nothing for a missing one. */
function got(value: unknown): string {
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
