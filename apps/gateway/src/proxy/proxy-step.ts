import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal';
import type { ServiceConfig } from '../routing/gateway-config';
import type { CanonicalPath } from '../routing/path-canonicalizer';
import type { RouteMatch } from '../routing/route-table';
import type { ProxyExchange } from './proxy-exchange';
import type { ServiceUpstreams } from './upstream-registry';

/** The step is done with the request: the next step in the list gets it. */
export const NEXT = 0;
/** The step answered the request, or handed it to the exchange: no later step runs. */
export const ANSWERED = 1;

export type StepVerdict = typeof NEXT | typeof ANSWERED;

/** A routed request on its way through its service's steps. */
export class ProxiedRequest {
  /** The verified caller, once the authorization step found one. */
  principal: Principal | undefined = undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly route: RouteMatch,
    /** The canonical path and the raw query. */
    readonly canonical: CanonicalPath,
    readonly upstreams: ServiceUpstreams,
    readonly requestId: string,
    readonly exchange: ProxyExchange,
    /** Flat `[name, value, ...]` headers for the upstream request; a step may append to them. */
    readonly upstreamHeaders: string[],
    /** May go again after its bytes could have reached an upstream. */
    readonly replaySafe: boolean,
  ) {}
}

/**
 * One step of a routed request, with one job: it answers the request (through its exchange) or
 * passes it on. Synchronous unless its job needs I/O; an asynchronous step resolves to its verdict
 * and the pipeline goes on from there.
 */
export interface ProxyStep {
  /** Whether the step can ever act on a request of `service`; if not, it is left out of its list. */
  appliesTo(service: ServiceConfig): boolean;
  run(request: ProxiedRequest): StepVerdict | Promise<StepVerdict>;
}
