import { bootstrapApp } from '@app/common';
import { GatewayModule } from './gateway.module';

void bootstrapApp(GatewayModule);
