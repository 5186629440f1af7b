import { IsInt, Max, Min } from 'class-validator';

export enum OrderStatus {
  Confirmed = 'CONFIRMED',
  Cancelled = 'CANCELLED',
}

export class CreateOrderDto {
  @IsInt()
  @Min(1)
  productId!: number;

  @IsInt({ message: 'quantity must be a positive integer' })
  @Min(1, { message: 'quantity must be a positive integer' })
  @Max(10_000)
  quantity!: number;
}

export interface OrderView {
  id: number;
  userId: number;
  productId: number;
  quantity: number;
  unitPrice: string;
  totalPrice: string;
  status: OrderStatus;
  createdAt: string;
}
