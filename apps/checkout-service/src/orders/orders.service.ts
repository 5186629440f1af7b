import {
  CreateOrderDto,
  OrderStatus,
  OrderView,
  Page,
  PaginationQueryDto,
  toMinorUnits,
} from '@app/contracts';
import {
  BadRequestException,
  ConflictException,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IdempotencyService, IdempotentResult, requestHash, WriteLock } from '@app/database';
import { EntityManager, Repository } from 'typeorm';
import { CallContext } from '../clients/call-context';
import { ProductClient } from '../clients/product.client';
import { UserClient } from '../clients/user.client';
import { Order } from './order.entity';
import { orderTotalMinor } from './order-total';

/** Largest value of the `integer` id column on PostgreSQL. */
const MAX_ORDER_ID = 2_147_483_647;

/** An order priced and checked, ready to be written. */
interface PricedOrder {
  userId: number;
  productId: number;
  quantity: number;
  unitPriceMinor: number;
  totalPriceMinor: number;
}

@Injectable()
export class OrdersService {
  constructor(
    @InjectRepository(Order) private readonly orders: Repository<Order>,
    private readonly products: ProductClient,
    private readonly users: UserClient,
    private readonly idempotency: IdempotencyService,
    private readonly writeLock: WriteLock,
  ) {}

  /** Prices the order at the catalogue's current price and stores it as CONFIRMED. */
  async place(ctx: CallContext, dto: CreateOrderDto): Promise<OrderView> {
    const priced = await this.price(ctx, dto);
    return this.writeLock.transaction((manager) => this.insert(manager, priced));
  }

  /** `place`, at most once per (user, `key`): a retry with the key gets the first answer again. */
  placeOnce(ctx: CallContext, dto: CreateOrderDto, key: string): Promise<IdempotentResult> {
    const scope = {
      scope: `user:${ctx.identity.userId}`,
      key,
      requestHash: requestHash({ productId: dto.productId, quantity: dto.quantity }),
      requestId: ctx.requestId,
    };
    return this.idempotency.execute(scope, async (seal) => {
      const priced = await this.price(ctx, dto);
      const order = await this.writeLock.transaction(async (manager) => {
        const view = await this.insert(manager, priced);
        await seal(manager, { status: 201, body: view });
        return view;
      });
      return { status: 201, body: order };
    });
  }

  async list(userId: number, { limit, offset }: PaginationQueryDto): Promise<Page<OrderView>> {
    const [rows, total] = await this.orders.findAndCount({
      where: { userId },
      order: { id: 'DESC' },
      take: limit,
      skip: offset,
    });
    return { items: rows.map((o) => o.toView()), total, limit, offset };
  }

  async get(userId: number, id: number): Promise<OrderView> {
    return (await this.findOwn(userId, id)).toView();
  }

  /** CONFIRMED → CANCELLED, decided by one conditional update so two cancels cannot both win. */
  async cancel(userId: number, id: number): Promise<OrderView> {
    await this.findOwn(userId, id);
    const result = await this.writeLock.run(() =>
      this.orders.update(
        { id, userId, status: OrderStatus.Confirmed },
        { status: OrderStatus.Cancelled, updatedAt: new Date().toISOString() },
      ),
    );
    if (result.affected !== 1) throw new ConflictException(`order ${id} is already cancelled`);
    return (await this.findOwn(userId, id)).toView();
  }

  /** Current unit price from the product service and the user's existence from the user service. */
  private async price(ctx: CallContext, dto: CreateOrderDto): Promise<PricedOrder> {
    const { userId } = ctx.identity;
    // Ids the product service cannot route (over 2^53) cannot name a product.
    if (!Number.isSafeInteger(dto.productId)) {
      throw new BadRequestException('productId must be a positive integer');
    }
    // Both lookups at once; when both fail, the product's failure is the one reported.
    const [product, user] = await Promise.allSettled([
      this.products.find(dto.productId, ctx),
      this.users.exists(userId, ctx),
    ]);
    if (product.status === 'rejected') throw product.reason;
    if (product.value === null) {
      throw new UnprocessableEntityException(`product ${dto.productId} does not exist`);
    }
    if (user.status === 'rejected') throw user.reason;
    if (!user.value) throw new UnprocessableEntityException(`user ${userId} does not exist`);

    const unitPriceMinor = toMinorUnits(product.value.price);
    let totalPriceMinor: number;
    try {
      totalPriceMinor = orderTotalMinor(unitPriceMinor, dto.quantity);
    } catch {
      throw new UnprocessableEntityException('order total exceeds the largest supported amount');
    }
    return {
      userId,
      productId: dto.productId,
      quantity: dto.quantity,
      unitPriceMinor,
      totalPriceMinor,
    };
  }

  private async insert(manager: EntityManager, priced: PricedOrder): Promise<OrderView> {
    const now = new Date().toISOString();
    const order = manager.create(Order, {
      ...priced,
      status: OrderStatus.Confirmed,
      createdAt: now,
      updatedAt: now,
    });
    const result = await manager.insert(Order, order);
    order.id = Number((result.identifiers[0] as { id: number | string }).id);
    return order.toView();
  }

  private async findOwn(userId: number, id: number): Promise<Order> {
    // Past the id column's range on PostgreSQL (int4) no order can exist; the query would fail.
    if (id > MAX_ORDER_ID) throw new NotFoundException(`order ${id} not found`);
    // Another user's order answers like a missing one, so ids reveal nothing.
    const order = await this.orders.findOneBy({ id, userId });
    if (!order) throw new NotFoundException(`order ${id} not found`);
    return order;
  }
}
