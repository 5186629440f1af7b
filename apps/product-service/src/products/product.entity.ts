import { fromMinorUnits, ProductView } from '@app/contracts';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** bigint columns come back as strings from PostgreSQL and numbers from SQLite; both read as a safe integer. */
const minorUnitsTransformer = {
  to: (value: number): number => value,
  from: (value: string | number): number => Number(value),
};

@Entity('products')
export class Product {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'price_minor', type: 'bigint', transformer: minorUnitsTransformer })
  priceMinor!: number;

  @Column({ name: 'created_at', type: 'varchar', length: 30 })
  createdAt!: string;

  @Column({ name: 'updated_at', type: 'varchar', length: 30 })
  updatedAt!: string;

  toView(): ProductView {
    return { id: this.id, name: this.name, price: fromMinorUnits(this.priceMinor) };
  }
}
