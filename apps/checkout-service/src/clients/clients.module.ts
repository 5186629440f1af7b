import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { clientsConfig } from './clients.config';
import { ProductClient } from './product.client';
import { UserClient } from './user.client';

/** HTTP clients of the product and user services, with retries over their replicas. */
@Module({
  imports: [HttpModule, ConfigModule.forFeature(clientsConfig)],
  providers: [ProductClient, UserClient],
  exports: [ProductClient, UserClient],
})
export class ClientsModule {}
