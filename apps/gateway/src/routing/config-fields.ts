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
      if (!allowed.includes(key)) this.report(at(path, key), 'unknown key');
    }
    return record;
  }

  array(value: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.report(path, 'must be a list');
      return undefined;
    }
    return value as unknown[];
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value !== 'string' || value.length === 0) {
      this.report(path, 'must be a non-empty string');
      return undefined;
    }
    return value;
  }

  integer(value: unknown, path: string, min: number, max: number, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.report(path, `must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.report(path, 'must be true or false');
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

export function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
