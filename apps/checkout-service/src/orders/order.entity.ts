import { fromMinorUnits, OrderStatus, OrderView } from '@app/contracts';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** bigint columns come back as strings from PostgreSQL and numbers from SQLite; both read as a safe integer. */
const integerTransformer = {
  to: (value: number): number => value,
  from: (value: string | number): number => Number(value),
};

@Entity('orders')
export class Order {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'user_id', type: 'bigint', transformer: integerTransformer })
  userId!: number;

  @Column({ name: 'product_id', type: 'bigint', transformer: integerTransformer })
  productId!: number;

  @Column({ type: 'integer' })
  quantity!: number;

  @Column({ name: 'unit_price_minor', type: 'bigint', transformer: integerTransformer })
  unitPriceMinor!: number;

  @Column({ name: 'total_price_minor', type: 'bigint', transformer: integerTransformer })
  totalPriceMinor!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: OrderStatus;

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt!: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 30 })
  updatedAt!: string;

  toView(): OrderView {
    return {
      id: this.id,
      userId: this.userId,
      productId: this.productId,
      quantity: this.quantity,
      unitPrice: fromMinorUnits(this.unitPriceMinor),
      totalPrice: fromMinorUnits(this.totalPriceMinor),
      status: this.status,
      createdAt: this.createdAt,
    };
  }
}
