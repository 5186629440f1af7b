import { PartialType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';
import { MONEY_PATTERN } from './money';

export class CreateProductDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  /** A decimal amount such as "19.99"; a JSON number is read by its decimal spelling. */
  @Transform(({ value }: { value: unknown }) => (typeof value === 'number' ? String(value) : value))
  @IsString()
  @Matches(MONEY_PATTERN, {
    message:
      'price must be a non-negative decimal amount with at most 2 fraction digits, e.g. "19.99"',
  })
  price!: string;
}

export class UpdateProductDto extends PartialType(CreateProductDto) {}

export interface ProductView {
  id: number;
  name: string;
  price: string;
}
