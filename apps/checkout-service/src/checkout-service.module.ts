import { CommonHttpModule, OpenApiInfo, serverConfig, ServiceMetricsModule } from '@app/common';
import {
  CreateIdempotencyRecords1765000000000,
  CreateStorageProbe1765000000100,
  DatabaseModule,
  ServiceHealthModule,
} from '@app/database';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CreateOrders1764160000000 } from './migrations/1764160000000-create-orders';
import { CreateIdempotencyKeys1764160000001 } from './migrations/1764160000001-create-idempotency-keys';
import { MoveIdempotencyKeys1765000000001 } from './migrations/1765000000001-move-idempotency-keys';
import { OrdersModule } from './orders/orders.module';

export const CHECKOUT_SERVICE_API: OpenApiInfo = {
  title: 'checkout-service',
  description: 'Orders: checkout of one product, priced by the product service.',
};

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true, load: [serverConfig(3005)] }),
    CommonHttpModule.forRoot({ service: 'checkout-service' }),
    ServiceMetricsModule,
    DatabaseModule.forRoot({
      defaultFile: 'orders.db',
      migrations: [
        CreateOrders1764160000000,
        CreateIdempotencyKeys1764160000001,
        CreateIdempotencyRecords1765000000000,
        MoveIdempotencyKeys1765000000001,
        CreateStorageProbe1765000000100,
      ],
    }),
    ServiceHealthModule,
    OrdersModule,
  ],
})
export class CheckoutServiceModule {}
