import { CommonHttpModule, OpenApiInfo, serverConfig, ServiceMetricsModule } from '@app/common';
import {
  CreateIdempotencyRecords1765000000000,
  CreateStorageProbe1765000000100,
  DatabaseModule,
  ServiceHealthModule,
} from '@app/database';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CreateProducts1764140000000 } from './migrations/1764140000000-create-products';
import { ProductsModule } from './products/products.module';
import { seedProducts } from './products/products.seed';

export const PRODUCT_SERVICE_API: OpenApiInfo = {
  title: 'product-service',
  description: 'The product catalogue: names and prices.',
};

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true, load: [serverConfig(3001)] }),
    CommonHttpModule.forRoot({ service: 'product-service' }),
    ServiceMetricsModule,
    DatabaseModule.forRoot({
      defaultFile: 'products.db',
      migrations: [
        CreateProducts1764140000000,
        CreateIdempotencyRecords1765000000000,
        CreateStorageProbe1765000000100,
      ],
      seed: seedProducts,
    }),
    ServiceHealthModule,
    ProductsModule,
  ],
})
export class ProductServiceModule {}
