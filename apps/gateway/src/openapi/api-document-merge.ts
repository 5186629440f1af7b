import type {
  OpenAPIObject,
  OperationObject,
  PathItemObject,
  ResponseObject,
  TagObject,
} from '@nestjs/swagger';
import { AuthPolicy, formatAuthPolicy } from '../routing/auth-policy';

/** The scheme a client signs requests with: the access token from `POST /api/auth/login`. */
const BEARER_SCHEME = 'bearer';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type Method = (typeof METHODS)[number];

const REF_PREFIX = '#/components/';

/** One routed service and its own document as fetched from a replica. */
export interface ServiceApi {
  /** The service's name in the gateway config: its tag and the namespace of its components. */
  readonly name: string;
  /** Public base path: the service's `/x` is the client's `<basePath>/x`. */
  readonly basePath: string;
  /** `null` when no replica served a document; `reason` says why. */
  readonly document: OpenAPIObject | null;
  readonly reason?: string;
}

/** Where the gateway sends a request, or `undefined` when it forwards it nowhere (e.g. `/internal`). */
export type RouteLookup = (
  method: string,
  publicPath: string,
) => { readonly service: string; readonly policy: AuthPolicy } | undefined;

export interface UnavailableService {
  readonly service: string;
  readonly reason: string;
}

/** The combined document; `x-unavailable` lists the services whose routes are missing from it. */
export type CombinedApiDocument = OpenAPIObject & {
  'x-unavailable': UnavailableService[];
};

export interface MergeInput {
  readonly info: OpenAPIObject['info'];
  /** The gateway's own document (its own endpoints, already at their public paths). */
  readonly gateway: OpenAPIObject | null;
  readonly services: readonly ServiceApi[];
  readonly route: RouteLookup;
}

/**
 * Merges the gateway's own document with each service's, as a client of the gateway sees them:
 * service paths under their public base path, only the method and path pairs the gateway
 * forwards to that service, the route's auth policy as a bearer requirement, components
 * renamed `<service>.<name>` (only those the kept operations use) and one tag per service.
 */
export function mergeApiDocuments(input: MergeInput): CombinedApiDocument {
  const paths: Record<string, PathItemObject> = {};
  const schemas: Record<string, unknown> = {};
  const components: Record<string, Record<string, unknown>> = { schemas };
  const tags: TagObject[] = [];
  const unavailable: UnavailableService[] = [];

  if (input.gateway) {
    // A copy: the gateway's own document is also served as it is, at /docs-json.
    const gateway = structuredClone(input.gateway);
    Object.assign(paths, gateway.paths);
    for (const [section, entries] of Object.entries(gateway.components ?? {})) {
      if (section === 'securitySchemes') continue;
      Object.assign((components[section] ??= {}), entries);
    }
    tags.push(...(gateway.tags ?? []));
    for (const name of operationTags(gateway)) {
      if (!tags.some((t) => t.name === name)) tags.push({ name });
    }
  }

  for (const service of input.services) {
    if (service.document === null) {
      unavailable.push({ service: service.name, reason: service.reason ?? 'unavailable' });
      continue;
    }
    let contribution: Contribution;
    try {
      contribution = contributionOf(service, service.document, input.route);
    } catch (err) {
      // A document that passed the shape check but not this walk: left out, like a missing one.
      unavailable.push({ service: service.name, reason: `unreadable: ${(err as Error).message}` });
      continue;
    }
    for (const { path, method, operation } of contribution.operations) {
      const item = (paths[path] ??= {});
      item[method] ??= operation;
    }
    for (const [section, entries] of Object.entries(contribution.components)) {
      Object.assign((components[section] ??= {}), entries);
    }
    if (contribution.operations.length > 0) {
      tags.push({ name: service.name, description: service.document.info?.description });
    }
  }

  const hasErrorBody = schemas.ErrorBody !== undefined;
  for (const item of Object.values(paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) addAuthFailures(operation, hasErrorBody);
    }
  }

  const notes = unavailable.map((u) => `\n- ${u.service}: ${u.reason}`).join('');
  return {
    openapi: '3.0.3',
    info: {
      ...input.info,
      description:
        (input.info.description ?? '') +
        (notes && `\n\nNot listed now, their documents could not be fetched:${notes}`),
    },
    tags,
    paths,
    components: {
      ...components,
      securitySchemes: {
        [BEARER_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'The `accessToken` from `POST /api/auth/login`.',
        },
      },
    },
    'x-unavailable': unavailable,
  };
}

interface Contribution {
  readonly operations: { path: string; method: Method; operation: OperationObject }[];
  readonly components: Record<string, Record<string, unknown>>;
}

/** The service's operations the gateway forwards, at their public paths, and what they use. */
function contributionOf(
  service: ServiceApi,
  document: OpenAPIObject,
  route: RouteLookup,
): Contribution {
  const namespace = `${service.name}.`;
  const refs = new Set<string>();
  const operations: Contribution['operations'] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/') || item === null || typeof item !== 'object') continue;
    const publicPath = path === '/' ? service.basePath : `${service.basePath}${path}`;
    for (const method of METHODS) {
      const operation = item[method];
      if (operation === null || typeof operation !== 'object') continue;
      const target = route(method.toUpperCase(), publicPath);
      if (target?.service !== service.name) continue;
      const renamed = renameRefs(operation, namespace, refs);
      operations.push({
        path: publicPath,
        method,
        operation: secured(
          {
            ...renamed,
            responses: renamed.responses ?? {},
            tags: [service.name],
            operationId: operation.operationId && `${namespace}${operation.operationId}`,
          },
          target.policy,
        ),
      });
    }
  }
  const components: Contribution['components'] = {};
  copyReachableComponents(document, namespace, refs, components);
  return { operations, components };
}

/** The route's policy, as the gateway enforces it before the service sees the request. */
function secured(operation: OperationObject, policy: AuthPolicy): OperationObject {
  const result: OperationObject & Record<string, unknown> = {
    ...operation,
    'x-auth-policy': formatAuthPolicy(policy),
  };
  if (policy.kind === 'public') {
    delete result.security;
    return result;
  }
  result.security = [{ [BEARER_SCHEME]: [] }];
  if (policy.kind === 'role') {
    const needs = `Requires the \`${policy.role}\` role.`;
    result.description = operation.description ? `${needs} ${operation.description}` : needs;
  }
  return result;
}

/** Documents the gateway's own 401 (and 403 for a role) on every operation that needs a token. */
function addAuthFailures(operation: OperationObject, hasErrorBody: boolean): void {
  if (!operation.security?.some((requirement) => BEARER_SCHEME in requirement)) return;
  const failure = (description: string): ResponseObject =>
    hasErrorBody
      ? {
          description,
          content: {
            'application/json': { schema: { $ref: `${REF_PREFIX}schemas/ErrorBody` } },
          },
        }
      : { description };
  operation.responses['401'] ??= failure('Missing, invalid, expired or revoked token');
  const policy = (operation as { 'x-auth-policy'?: string })['x-auth-policy'];
  if (policy?.startsWith('role:')) {
    operation.responses['403'] ??= failure('The token lacks the required role');
  }
}

/** A deep copy of `value` with each `#/components/<section>/<name>` renamed to `<namespace><name>`. */
function renameRefs<T>(value: T, namespace: string, refs: Set<string>): T {
  if (Array.isArray(value)) return value.map((v: unknown) => renameRefs(v, namespace, refs)) as T;
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$ref' && typeof inner === 'string' && inner.startsWith(REF_PREFIX)) {
      const [section, ...name] = inner.slice(REF_PREFIX.length).split('/');
      const renamed = `${REF_PREFIX}${section}/${namespace}${name.join('/')}`;
      refs.add(inner);
      copy[key] = renamed;
    } else {
      copy[key] = renameRefs(inner, namespace, refs);
    }
  }
  return copy as T;
}

/** Copies the components that `refs` reach, directly or through other components, renamed. */
function copyReachableComponents(
  document: OpenAPIObject,
  namespace: string,
  refs: Set<string>,
  into: Record<string, Record<string, unknown>>,
): void {
  const source = (document.components ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const done = new Set<string>();
  let pending = [...refs];
  while (pending.length > 0) {
    const found = new Set<string>();
    for (const ref of pending) {
      if (done.has(ref)) continue;
      done.add(ref);
      const [section, ...rest] = ref.slice(REF_PREFIX.length).split('/');
      const name = rest.join('/');
      const component = source[section]?.[name];
      if (component === undefined || section === 'securitySchemes') continue;
      (into[section] ??= {})[`${namespace}${name}`] = renameRefs(component, namespace, found);
    }
    pending = [...found].filter((ref) => !done.has(ref));
  }
}

function operationTags(document: OpenAPIObject): string[] {
  const names = new Set<string>();
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) for (const tag of item[method]?.tags ?? []) names.add(tag);
  }
  return [...names];
}
