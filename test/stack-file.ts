import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/app-process';

/** The part of a Compose v3 service that the stack checks read. */
export interface StackService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  secrets?: Array<string | { source: string; target?: string }>;
  configs?: Array<{ source: string; target?: string }>;
  volumes?: Array<string | { source?: string; target: string }>;
  ports?: Array<{ target: number; published?: number; mode?: string }>;
  networks?: string[] | Record<string, unknown>;
  healthcheck?: {
    test?: string[];
    interval?: string;
    timeout?: string;
    retries?: number;
    start_period?: string;
  };
  stop_grace_period?: string;
  deploy?: {
    replicas?: number;
    placement?: { constraints?: string[] };
    update_config?: Record<string, string | number>;
    rollback_config?: Record<string, string | number>;
    restart_policy?: Record<string, string | number>;
  };
}

export interface Stack {
  services: Record<string, StackService>;
  networks?: Record<string, { driver?: string } | null>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { external?: boolean; file?: string } | null>;
  configs?: Record<string, { file?: string } | null>;
}

export const STACK_FILE = 'docker-stack.yml';
export const POSTGRES_OVERRIDE = 'docker-stack.postgres.yml';
export const TLS_OVERRIDE = 'docker-stack.tls.yml';

/** The apps of the monorepo, each built into its own image from the one Dockerfile. */
export const APPS = ['gateway', 'product-service', 'user-service', 'checkout-service'] as const;
export type App = (typeof APPS)[number];

/**
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}` and `$$` as
 * `docker stack deploy` resolves them in string values; a required variable left unset throws.
 */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (match, name?: string, colon?: string, kind?: string, text?: string) => {
      if (match === '$$') return '$';
      const set = vars[name!];
      const missing = set === undefined || (colon === ':' && set === '');
      if (!missing) return set;
      if (kind === '?') throw new Error(`required variable ${name} is missing a value: ${text}`);
      return text ?? '';
    },
  );
}

function resolveValues(node: unknown, vars: Record<string, string | undefined>): unknown {
  if (typeof node === 'string') return interpolate(node, vars);
  if (Array.isArray(node)) return node.map((item) => resolveValues(item, vars));
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, resolveValues(value, vars)]),
    );
  }
  return node;
}

const secretSource = (s: string | { source: string }) => (typeof s === 'string' ? s : s.source);
const volumeTarget = (v: string | { target: string }) =>
  typeof v === 'string' ? v.split(':')[1] : v.target;

/** Keyed lists are merged by key, other lists appended, mappings merged and scalars replaced. */
function mergeNode(base: unknown, over: unknown, key = ''): unknown {
  if (Array.isArray(base) && Array.isArray(over)) {
    const keyOf =
      key === 'secrets' || key === 'configs'
        ? secretSource
        : key === 'volumes'
          ? volumeTarget
          : undefined;
    if (!keyOf) return [...(base as unknown[]), ...(over as unknown[])];
    const merged = new Map<string, unknown>();
    for (const item of [...base, ...over] as Array<string & { source: string; target: string }>) {
      merged.set(keyOf(item), item);
    }
    return [...merged.values()];
  }
  if (base && over && typeof base === 'object' && typeof over === 'object') {
    const result: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over)) result[k] = mergeNode(result[k], v, k);
    return result;
  }
  return over === undefined || over === null || over === '' ? base : over;
}

/**
 * The stack as `docker stack config -c file ...` would resolve it (interpolation with `vars`, later
 * files merged into earlier ones), with environment values as strings.
 */
export function loadStack(
  files: readonly string[],
  vars: Record<string, string | undefined> = {},
): Stack {
  let merged: unknown = {};
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const parsed: unknown = parse(text, { merge: true });
    merged = mergeNode(merged, resolveValues(parsed, vars));
  }
  const stack = merged as Stack;
  for (const service of Object.values(stack.services)) {
    if (service.environment) {
      service.environment = Object.fromEntries(
        Object.entries(service.environment).map(([k, v]) => [k, String(v)]),
      );
    }
  }
  return stack;
}

/** Seconds of a Compose duration: `1m30s`, `40s`, `1m0s`, `500ms`. */
export function seconds(duration: string | number | undefined): number {
  if (duration === undefined) return Number.NaN;
  if (typeof duration === 'number') return duration / 1e9;
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) return Number.NaN;
  const unit = { h: 3600, m: 60, s: 1, ms: 0.001 } as const;
  return parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u as keyof typeof unit], 0);
}

/** Which app a service's image was built for (`.../api/<app>:tag`), if any. */
export function appOf(service: StackService): App | undefined {
  const name = service.image
    ?.replace(/:[^:/]*$/, '')
    .split('/')
    .pop();
  return APPS.find((app) => app === name);
}

export function secretsOf(service: StackService): string[] {
  return (service.secrets ?? []).map(secretSource);
}

export function networksOf(service: StackService): string[] {
  const networks = service.networks ?? [];
  return Array.isArray(networks) ? networks : Object.keys(networks);
}

/** Named volumes a service mounts, with where they are mounted. */
export function namedVolumesOf(service: StackService): Array<{ source: string; target: string }> {
  return (service.volumes ?? [])
    .map((v) => {
      if (typeof v !== 'string') return { source: v.source ?? '', target: v.target };
      const [source, target] = v.split(':');
      return { source, target };
    })
    .filter((v) => /^[A-Za-z0-9][\w.-]*$/.test(v.source));
}

/** The runtime stage's `ENV` of the Dockerfile: the environment every app container starts with. */
export function imageEnv(app: App): Record<string, string> {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\r?\n/g, ' ');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, key, value] of line.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) {
      env[key] = value.replace(/\$\{APP\}/g, app);
    }
  }
  return env;
}

/**
 * Variables an app reads whose default is a loopback address: right for a laptop, wrong in a
 * container, so the stack must set them. Found in the app's and the libraries' env schemas
 * (class fields `NAME: type = '...127.0.0.1...'`).
 */
export function loopbackDefaults(app: App): string[] {
  const files = [...sourceFiles(join('apps', app, 'src')), ...sourceFiles('libs')];
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const [, name] of text.matchAll(
      /^\s+([A-Z][A-Z0-9_]*)\??:[^=\n]*=\s*'[^'\n]*(?:127\.0\.0\.1|localhost)[^'\n]*'/gm,
    )) {
      names.add(name);
    }
  }
  return [...names].sort();
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(join(ROOT, rel))) {
      const path = join(rel, entry);
      if (statSync(join(ROOT, path)).isDirectory()) {
        if (entry !== 'test' && entry !== 'node_modules') walk(path);
      } else if (entry.endsWith('.ts') && !entry.endsWith('.spec.ts')) {
        out.push(path);
      }
    }
  };
  if (existsSync(join(ROOT, dir))) walk(dir);
  return out;
}
