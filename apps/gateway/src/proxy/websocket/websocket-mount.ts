import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayConfig } from '../../routing/gateway-config';
import { GATEWAY_CONFIG } from '../../routing/routing.tokens';
import { isWebSocketUpgrade } from './handshake';
import { WebSocketUpgrade } from './websocket-upgrade';

/**
 * Hands `Upgrade: websocket` requests to `WebSocketUpgrade`, when a service of the config accepts
 * them. Only those: any other upgrade (h2c, say) stays an ordinary request, its `Upgrade` header
 * removed on the proxy path as before. Without such a service nothing is installed, and the
 * server behaves as if this did not exist.
 */
@Injectable()
export class WebSocketMount implements OnApplicationBootstrap {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly upgrade: WebSocketUpgrade,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.services.some((service) => service.websocket)) return;
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server & {
      shouldUpgradeCallback: (req: IncomingMessage) => boolean;
    };
    // Node asks this for every request that carries Upgrade; false sends it to 'request'.
    server.shouldUpgradeCallback = isWebSocketUpgrade;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade.handle(req, socket, head),
    );
  }
}
