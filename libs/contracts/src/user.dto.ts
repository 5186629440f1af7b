import { ApiProperty, PartialType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsEmail,
  IsNotEmpty,
  IsString,
  Matches,
  MaxLength,
  MinLength,
} from 'class-validator';

/** Quoted local parts (RFC 5321 `"a b"@x`) and spaces inside an address are not accepted. */
const UNQUOTED_EMAIL = /^[^"\\\s]+$/;
const UNQUOTED_EMAIL_MESSAGE = 'email must not contain quotes, backslashes or spaces';

export class CreateUserDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Ada Lovelace' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;

  @ApiProperty({ format: 'email', maxLength: 254, example: 'ada@example.com' })
  @Matches(UNQUOTED_EMAIL, { message: UNQUOTED_EMAIL_MESSAGE })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ format: 'password', minLength: 8, maxLength: 128 })
  @IsString()
  @MinLength(8)
  @MaxLength(128)
  password!: string;
}

export class UpdateUserDto extends PartialType(CreateUserDto) {}

export class VerifyCredentialsDto {
  @ApiProperty({ format: 'email', maxLength: 254, example: 'user@example.com' })
  @Matches(UNQUOTED_EMAIL, { message: UNQUOTED_EMAIL_MESSAGE })
  @IsEmail()
  @MaxLength(254)
  email!: string;

  @ApiProperty({ format: 'password', minLength: 1, maxLength: 128 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  password!: string;
}

export class UserView {
  @ApiProperty({ type: 'integer', example: 2 })
  id!: number;

  @ApiProperty({ example: 'Ada Lovelace' })
  name!: string;

  @ApiProperty({ format: 'email', example: 'ada@example.com' })
  email!: string;

  @ApiProperty({ type: [String], example: ['user'] })
  roles!: string[];
}

/** An account's roles, set as a whole by an admin. */
export class SetRolesDto {
  @ApiProperty({ type: [String], example: ['user'], maxItems: 10 })
  @IsArray()
  @ArrayMaxSize(10)
  @ArrayUnique()
  @Matches(/^[a-z][a-z0-9-]{0,31}$/, {
    each: true,
    message: 'each role must be 1 to 32 lower-case letters, digits or "-", starting with a letter',
  })
  roles!: string[];
}
