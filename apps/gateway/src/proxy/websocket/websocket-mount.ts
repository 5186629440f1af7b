import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { isWebSocketUpgrade } from './handshake';
import { WebSocketUpgrade } from './websocket-upgrade';

/**
 * Hands every `Upgrade: websocket` request to `WebSocketUpgrade`, which tunnels it or refuses it
 * (400 on a route without `websocket: true`, whatever the other services say). Any other upgrade
 * (h2c, say) stays an ordinary request, its `Upgrade` header removed on the proxy path. Node asks
 * only about requests that carry `Upgrade`.
 */
@Injectable()
export class WebSocketMount implements OnApplicationBootstrap {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly upgrade: WebSocketUpgrade,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server & {
      shouldUpgradeCallback: (req: IncomingMessage) => boolean;
    };
    // Node 24: false sends the request to 'request' listeners instead of 'upgrade'.
    server.shouldUpgradeCallback = isWebSocketUpgrade;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade.handle(req, socket, head),
    );
  }
}
