import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConfigGeneration } from '../config-generation';
import { LiveConfig } from '../live-config';
import { isWebSocketUpgrade } from './handshake';
import { WebSocketUpgrade } from './websocket-upgrade';

/**
 * Hands `Upgrade: websocket` requests to `WebSocketUpgrade` while a service of the config in
 * effect accepts them. Only those: any other upgrade (h2c, say), and every upgrade while no
 * service has `websocket: true`, stays an ordinary request, its `Upgrade` header removed on the
 * proxy path as before. Node asks only about requests that carry `Upgrade`.
 */
@Injectable()
export class WebSocketMount implements OnApplicationBootstrap {
  /** Whether a service of the generation in effect has `websocket: true`; kept on each reload. */
  private accepting: boolean;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly upgrade: WebSocketUpgrade,
    live: LiveConfig,
  ) {
    this.accepting = acceptsWebSockets(live.current);
    live.onReplaced((next) => (this.accepting = acceptsWebSockets(next)));
  }

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server & {
      shouldUpgradeCallback: (req: IncomingMessage) => boolean;
    };
    // Node 24: false sends the request to 'request' listeners instead of 'upgrade'.
    server.shouldUpgradeCallback = (req) => this.accepting && isWebSocketUpgrade(req);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade.handle(req, socket, head),
    );
  }
}

function acceptsWebSockets(generation: ConfigGeneration): boolean {
  return generation.config.services.some((service) => service.websocket);
}
