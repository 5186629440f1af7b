import { ApiProperty, PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { MONEY_PATTERN } from './money';

export class CreateProductDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'USB-C cable' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  /** A decimal amount such as "19.99"; a JSON number is read by its decimal spelling. */
  @ApiProperty({
    description: 'A non-negative decimal amount with at most 2 fraction digits',
    pattern: MONEY_PATTERN.source,
    example: '19.99',
  })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'number' ? String(value) : value))
  @IsString()
  @Matches(MONEY_PATTERN, {
    message:
      'price must be a non-negative decimal amount with at most 2 fraction digits, e.g. "19.99"',
  })
  price!: string;
}

export class UpdateProductDto extends PartialType(CreateProductDto) {}

export class ProductView {
  @ApiProperty({ type: 'integer', example: 1 })
  id!: number;

  @ApiProperty({ example: 'USB-C cable' })
  name!: string;

  @ApiProperty({ description: 'Decimal amount, always 2 fraction digits', example: '19.90' })
  price!: string;
}
