import { at } from './config-problems';
import { isCanonicalPath } from './gateway-config.formats';
import { DEFAULT_SERVICE_OPTIONS, RESERVED_PATHS } from './gateway-config';

/**
 * The rules of the gateway config that span fields, which a JSON Schema cannot say: unique
 * service names and base paths clear of the gateway's own paths, targets listed once, bounds in
 * order, and `*` as the only CORS origin and never with credentials. They run beside the schema on
 * the same document, also when it has other problems, so one start reports everything: each rule
 * looks only at the values of the right type and leaves the rest to the schema's messages.
 */
export function crossFieldProblems(document: unknown): string[] {
  const problems: string[] = [];
  const report = (path: string, message: string) => problems.push(`${path}: ${message}`);
  const root = record(document);
  const defaults = record(root?.defaults);
  if (defaults) checkOptions(defaults, {}, 'defaults', report);
  const services = Array.isArray(root?.services) ? (root.services as unknown[]) : [];
  const byName = new Map<string, number>();
  const byBasePath = new Map<string, number>();
  services.forEach((raw, index) => {
    const service = record(raw);
    if (!service) return;
    const path = `services[${index}]`;
    const { name, basePath } = service;
    if (typeof name === 'string') {
      const other = byName.get(name);
      if (other !== undefined) {
        report(at(path, 'name'), `"${name}" is already used by services[${other}]`);
      } else {
        byName.set(name, index);
      }
    }
    if (typeof basePath === 'string' && isCanonicalPath(basePath)) {
      const problem = basePathProblem(basePath, byBasePath);
      if (problem) report(at(path, 'basePath'), problem);
      else byBasePath.set(basePath, index);
    }
    checkTargets(service.targets, at(path, 'targets'), report);
    checkOptions(service, defaults ?? {}, path, report);
  });
  return problems;
}

type Report = (path: string, message: string) => void;

function basePathProblem(basePath: string, byBasePath: Map<string, number>): string | undefined {
  if (basePath === '/') return 'must not be "/" (the gateway serves its own endpoints)';
  const clash = RESERVED_PATHS.find(
    (reserved) => isSegmentPrefix(reserved, basePath) || isSegmentPrefix(basePath, reserved),
  );
  if (clash) return `overlaps ${clash}, which the gateway serves itself`;
  const other = byBasePath.get(basePath);
  return other === undefined ? undefined : `${basePath} is already used by services[${other}]`;
}

function checkTargets(value: unknown, path: string, report: Report): void {
  if (!Array.isArray(value)) return;
  const seen = new Set<string>();
  value.forEach((entry, i) => {
    const target = typeof entry === 'string' ? entry : record(entry)?.url;
    if (typeof target !== 'string' || !URL.canParse(target)) return;
    const { origin } = new URL(target);
    if (seen.has(origin)) report(`${path}[${i}]`, `${origin} is listed twice`);
    seen.add(origin);
  });
}

/** Pairs of bounds where the upper one may not be below the lower one. */
const ORDERED_BOUNDS = [
  { section: 'retry', lower: 'backoffBaseMs', upper: 'backoffMaxMs' },
  { section: 'passiveHealth', lower: 'cooldownMs', upper: 'maxCooldownMs' },
] as const;

/** Bounds are compared as they take effect, over `defaults`, where the entry sets the section. */
function checkOptions(
  entry: Record<string, unknown>,
  defaults: Record<string, unknown>,
  path: string,
  report: Report,
): void {
  for (const { section, lower, upper } of ORDERED_BOUNDS) {
    const own = record(entry[section]);
    if (!own) continue;
    const effective: Record<string, unknown> = {
      ...DEFAULT_SERVICE_OPTIONS[section],
      ...record(defaults[section]),
      ...own,
    };
    const [low, high] = [effective[lower], effective[upper]];
    if (typeof low === 'number' && typeof high === 'number' && high < low) {
      report(at(at(path, section), upper), `must not be below ${lower}`);
    }
  }
  const cors = record(entry.cors);
  if (cors && Array.isArray(cors.origins)) {
    const origins = cors.origins as unknown[];
    const anyOrigin = origins.indexOf('*');
    if (anyOrigin >= 0 && cors.credentials === true) {
      report(
        `${at(path, 'cors.origins')}[${anyOrigin}]`,
        'must not be "*" when credentials are allowed',
      );
    }
    if (anyOrigin >= 0 && origins.length > 1) {
      report(at(path, 'cors.origins'), '"*" must be the only entry');
    }
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** `/a` is a segment prefix of `/a` and `/a/b`, not of `/ab`. */
export function isSegmentPrefix(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  return (
    path.startsWith(prefix) &&
    (path.length === prefix.length || path.charCodeAt(prefix.length) === 0x2f)
  );
}
