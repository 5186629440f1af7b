import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { GATEWAY_SETTINGS, GatewaySettings } from './gateway-env';
import { loadGatewayConfig } from './gateway-config.loader';
import { PathCanonicalizer } from './path-canonicalizer';
import { RouteTable } from './route-table';
import { GATEWAY_CONFIG } from './routing.tokens';

/** The config file, validated at start, and what is built from it: the route table and the path rule. */
@Module({
  providers: [
    {
      provide: GATEWAY_CONFIG,
      useFactory: (config: ConfigService) =>
        loadGatewayConfig(config.getOrThrow<GatewaySettings>(GATEWAY_SETTINGS).configFile),
      inject: [ConfigService],
    },
    PathCanonicalizer,
    RouteTable,
  ],
  exports: [GATEWAY_CONFIG, PathCanonicalizer, RouteTable],
})
export class RoutingModule {}
