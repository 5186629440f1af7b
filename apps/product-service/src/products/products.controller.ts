import {
  CreateProductDto,
  Page,
  PaginationQueryDto,
  ProductView,
  UpdateProductDto,
} from '@app/contracts';
import { ApiErrors, ApiIdParam, ApiPageResponse, IdParamPipe } from '@app/common';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ProductsService } from './products.service';

/** Mounted at the service root: the gateway strips `/api/products` before forwarding. */
@ApiTags('products')
@Controller()
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Get()
  @ApiOperation({ summary: 'List products, by id' })
  @ApiPageResponse(ProductView)
  @ApiErrors(400)
  list(@Query() query: PaginationQueryDto): Promise<Page<ProductView>> {
    return this.products.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one product' })
  @ApiIdParam()
  @ApiOkResponse({ type: ProductView })
  @ApiErrors(400, 404)
  get(@Param('id', IdParamPipe) id: number): Promise<ProductView> {
    return this.products.get(id);
  }

  @Post()
  @ApiOperation({ summary: 'Add a product' })
  @ApiCreatedResponse({ type: ProductView })
  @ApiErrors(400)
  create(@Body() dto: CreateProductDto): Promise<ProductView> {
    return this.products.create(dto);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change the name or price of a product' })
  @ApiIdParam()
  @ApiOkResponse({ type: ProductView })
  @ApiErrors(400, 404)
  update(
    @Param('id', IdParamPipe) id: number,
    @Body() dto: UpdateProductDto,
  ): Promise<ProductView> {
    return this.products.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a product' })
  @ApiIdParam()
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors(400, 404)
  remove(@Param('id', IdParamPipe) id: number): Promise<void> {
    return this.products.remove(id);
  }
}
