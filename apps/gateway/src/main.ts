import { bootstrapApp } from '@app/common';
import { GatewayModule } from './gateway.module';
import { setupGatewayOpenApi } from './openapi/gateway-openapi';

void bootstrapApp(GatewayModule, { configure: setupGatewayOpenApi });
