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
