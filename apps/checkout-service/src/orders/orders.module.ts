import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClientsModule } from '../clients/clients.module';
import { IdempotencyKey } from './idempotency-key.entity';
import { IdempotencyService } from './idempotency.service';
import { Order } from './order.entity';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { WriteLock } from './write-lock';

@Module({
  imports: [TypeOrmModule.forFeature([Order, IdempotencyKey]), ClientsModule],
  controllers: [OrdersController],
  providers: [OrdersService, IdempotencyService, WriteLock],
})
export class OrdersModule {}
