import {
  CreateProductDto,
  Page,
  PaginationQueryDto,
  ProductView,
  toMinorUnits,
  UpdateProductDto,
} from '@app/contracts';
import { NO_SEAL_BODY, SealBody, WriteLock } from '@app/database';
import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { Product } from './product.entity';

@Injectable()
export class ProductsService {
  constructor(
    @InjectRepository(Product) private readonly products: Repository<Product>,
    private readonly writeLock: WriteLock,
  ) {}

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

  /**
   * Every write is one transaction through the `WriteLock` (on SQLite a statement sent while
   * another write's transaction is open would run inside it); `sealBody` records the answer of a
   * keyed request in the same transaction.
   */
  create(dto: CreateProductDto, sealBody: SealBody = NO_SEAL_BODY): Promise<ProductView> {
    return this.writeLock.transaction(async (manager) => {
      const now = new Date().toISOString();
      const product = manager.create(Product, {
        name: dto.name,
        priceMinor: toMinorUnits(dto.price),
        createdAt: now,
        updatedAt: now,
      });
      const view = (await manager.save(product)).toView();
      await sealBody(manager, view);
      return view;
    });
  }

  update(
    id: number,
    dto: UpdateProductDto,
    sealBody: SealBody = NO_SEAL_BODY,
  ): Promise<ProductView> {
    return this.writeLock.transaction(async (manager) => {
      const product = await this.findOrFail(id, manager);
      if (dto.name !== undefined) product.name = dto.name;
      if (dto.price !== undefined) product.priceMinor = toMinorUnits(dto.price);
      product.updatedAt = new Date().toISOString();
      const view = (await manager.save(product)).toView();
      await sealBody(manager, view);
      return view;
    });
  }

  remove(id: number, sealBody: SealBody = NO_SEAL_BODY): Promise<void> {
    return this.writeLock.transaction(async (manager) => {
      const result = await manager.delete(Product, { id });
      if (!result.affected) throw this.notFound(id);
      await sealBody(manager, null);
    });
  }

  private async findOrFail(id: number, manager?: EntityManager): Promise<Product> {
    const product = await (manager?.getRepository(Product) ?? this.products).findOneBy({ id });
    if (!product) throw this.notFound(id);
    return product;
  }

  private notFound(id: number): NotFoundException {
    return new NotFoundException(`product ${id} not found`);
  }
}
