import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { RequestListener, RequestPipeline } from './request-pipeline';

/**
 * Puts the request pipeline ahead of Express on the one HTTP server: every request goes through
 * `RequestPipeline.dispatch`, which hands what is not routed to a service (health, metrics, the
 * gateway's own API, 404s) to Express as before.
 */
@Injectable()
export class ProxyMount implements OnApplicationBootstrap {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly pipeline: RequestPipeline,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    const express = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const toExpress: RequestListener =
      express.length === 1
        ? express[0]
        : (req, res) => {
            for (const listener of express) listener(req, res);
          };
    server.on('request', (req: IncomingMessage, res: ServerResponse) =>
      this.pipeline.dispatch(req, res, toExpress),
    );
  }
}
