import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

export enum OrderStatus {
  Confirmed = 'CONFIRMED',
  Cancelled = 'CANCELLED',
}

export class CreateOrderDto {
  @ApiProperty({ type: 'integer', minimum: 1, example: 2 })
  @IsInt()
  @Min(1)
  productId!: number;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 10_000, example: 3 })
  @IsInt({ message: 'quantity must be a positive integer' })
  @Min(1, { message: 'quantity must be a positive integer' })
  @Max(10_000)
  quantity!: number;
}

export class OrderView {
  @ApiProperty({ type: 'integer', example: 7 })
  id!: number;

  @ApiProperty({ type: 'integer', example: 2 })
  userId!: number;

  @ApiProperty({ type: 'integer', example: 2 })
  productId!: number;

  @ApiProperty({ type: 'integer', example: 3 })
  quantity!: number;

  @ApiProperty({ description: 'Price of one unit when ordered', example: '0.10' })
  unitPrice!: string;

  @ApiProperty({ description: 'unitPrice × quantity, computed exactly', example: '0.30' })
  totalPrice!: string;

  @ApiProperty({ enum: OrderStatus, enumName: 'OrderStatus' })
  status!: OrderStatus;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}
