import {
  CreateProductDto,
  Page,
  PaginationQueryDto,
  ProductView,
  toMinorUnits,
  UpdateProductDto,
} from '@app/contracts';
import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Product } from './product.entity';

/**
 * Each write is one statement, atomic on its own. Without a wrapping transaction, concurrent writes
 * do not nest as savepoints on better-sqlite3's single shared connection.
 */
const SINGLE_STATEMENT = { transaction: false } as const;

@Injectable()
export class ProductsService {
  constructor(@InjectRepository(Product) private readonly products: Repository<Product>) {}

  async list({ limit, offset }: PaginationQueryDto): Promise<Page<ProductView>> {
    const [rows, total] = await this.products.findAndCount({
      order: { id: 'ASC' },
      take: limit,
      skip: offset,
    });
    return { items: rows.map((p) => p.toView()), total, limit, offset };
  }

  async get(id: number): Promise<ProductView> {
    return (await this.findOrFail(id)).toView();
  }

  async create(dto: CreateProductDto): Promise<ProductView> {
    const now = new Date().toISOString();
    const product = this.products.create({
      name: dto.name,
      priceMinor: toMinorUnits(dto.price),
      createdAt: now,
      updatedAt: now,
    });
    return (await this.products.save(product, SINGLE_STATEMENT)).toView();
  }

  async update(id: number, dto: UpdateProductDto): Promise<ProductView> {
    const product = await this.findOrFail(id);
    if (dto.name !== undefined) product.name = dto.name;
    if (dto.price !== undefined) product.priceMinor = toMinorUnits(dto.price);
    product.updatedAt = new Date().toISOString();
    return (await this.products.save(product, SINGLE_STATEMENT)).toView();
  }

  async remove(id: number): Promise<void> {
    const result = await this.products.delete({ id });
    if (!result.affected) throw this.notFound(id);
  }

  private async findOrFail(id: number): Promise<Product> {
    const product = await this.products.findOneBy({ id });
    if (!product) throw this.notFound(id);
    return product;
  }

  private notFound(id: number): NotFoundException {
    return new NotFoundException(`product ${id} not found`);
  }
}
