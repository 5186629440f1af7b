import { toMinorUnits } from '@app/contracts';
import { EntityManager } from 'typeorm';
import { Product } from './product.entity';

const SEED_PRODUCTS = [
  { name: 'Mechanical keyboard', price: '89.90' },
  { name: 'USB-C cable', price: '0.10' },
  { name: 'Laptop stand', price: '34.50' },
  { name: 'Noise-cancelling headphones', price: '199.00' },
];

/** Fills an empty catalogue on first start; a catalogue that has rows is never touched. */
export async function seedProducts(manager: EntityManager): Promise<void> {
  if ((await manager.count(Product)) > 0) return;
  const now = new Date().toISOString();
  await manager.insert(
    Product,
    SEED_PRODUCTS.map((p) => ({
      name: p.name,
      priceMinor: toMinorUnits(p.price),
      createdAt: now,
      updatedAt: now,
    })),
  );
}
