import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { PathCanonicalizer } from '../routing/path-canonicalizer';
import { RouteTable } from '../routing/route-table';
import { ProxyHandler } from './proxy-handler';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts the proxy ahead of Express on the one HTTP server: every request's path is canonicalised
 * (400 when refused), a path under a service's base path goes to the lean `ProxyHandler`, and
 * everything else (health, metrics, the gateway's own API, 404s) to Express as before.
 */
@Injectable()
export class ProxyMount implements OnApplicationBootstrap {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly canonicalizer: PathCanonicalizer,
    private readonly routes: RouteTable,
    private readonly handler: ProxyHandler,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    const nest = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const toNest: RequestListener =
      nest.length === 1
        ? nest[0]
        : (req, res) => {
            for (const listener of nest) listener(req, res);
          };
    server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      this.dispatch(req, res, toNest),
    );
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, toNest: RequestListener): void {
    try {
      if (hasSeveralHosts(req.rawHeaders)) {
        this.handler.refuse(req, res, 'more than one Host header');
        return;
      }
      const canonical = this.canonicalizer.canonicalize(req.url);
      if (!canonical.ok) {
        this.handler.refuse(req, res, canonical.reason);
        return;
      }
      const route = this.routes.resolve(canonical, req.method ?? 'GET');
      if (route === undefined) {
        toNest(req, res);
        return;
      }
      this.handler.handle(req, res, canonical, route);
    } catch (err) {
      this.handler.crash(req, res, err);
    }
  }
}

/**
 * RFC 9112 3.2: a request with more than one Host header must get 400. Node keeps the first and
 * drops the others, so a cache or filter in front may have acted on a different one.
 */
function hasSeveralHosts(raw: string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}
