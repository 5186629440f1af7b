import { Module } from '@nestjs/common';
import { IdempotencyModule } from '@app/database';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Product } from './product.entity';
import { ProductsController } from './products.controller';
import { ProductsService } from './products.service';

@Module({
  imports: [TypeOrmModule.forFeature([Product]), IdempotencyModule],
  controllers: [ProductsController],
  providers: [ProductsService],
})
export class ProductsModule {}
