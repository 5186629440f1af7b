import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { GATEWAY_SETTINGS, GatewaySettings } from './gateway-env';
import { readGatewayConfig } from './gateway-config.loader';
import { PathCanonicalizer } from './path-canonicalizer';
import { GATEWAY_CONFIG, LOADED_GATEWAY_CONFIG, LoadedGatewayConfig } from './routing.tokens';

/** The config file, validated at start, and the path rule. Route tables are built per generation. */
@Module({
  providers: [
    {
      provide: LOADED_GATEWAY_CONFIG,
      useFactory: (config: ConfigService) =>
        readGatewayConfig(config.getOrThrow<GatewaySettings>(GATEWAY_SETTINGS).configFile),
      inject: [ConfigService],
    },
    {
      provide: GATEWAY_CONFIG,
      useFactory: (loaded: LoadedGatewayConfig) => loaded.config,
      inject: [LOADED_GATEWAY_CONFIG],
    },
    PathCanonicalizer,
  ],
  exports: [GATEWAY_CONFIG, LOADED_GATEWAY_CONFIG, PathCanonicalizer],
})
export class RoutingModule {}
