import { bootstrapApp } from '@app/common';
import { GatewayModule } from './gateway.module';
import { setupGatewayOpenApi } from './openapi/gateway-openapi';
import type { GatewayConfig } from './routing/gateway-config';
import { hstsHeaders } from './routing/hsts';
import { GATEWAY_CONFIG } from './routing/routing.tokens';

void bootstrapApp(GatewayModule, {
  configure: setupGatewayOpenApi,
  tlsResponseHeaders: (app) => hstsHeaders(app.get<GatewayConfig>(GATEWAY_CONFIG).tls),
});
