import { validateEnv } from '@app/common';
import { canonicalEmail } from '@app/contracts';
import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsEmail, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

// The same bounds as a sign-up (CreateUserDto): the first administrator is an ordinary account.
class AdminBootstrapEnv {
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? canonicalEmail(value) : value,
  )
  @IsEmail({}, { message: 'ADMIN_EMAIL must be an email address' })
  @MaxLength(254)
  ADMIN_EMAIL?: string = undefined;

  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(128)
  ADMIN_PASSWORD?: string = undefined;
}

export interface AdminAccount {
  /** Normalised like every stored address. */
  email: string;
  password: string;
}

export interface AdminBootstrapConfig {
  /** The account to make sure of at start; none when neither variable is set. */
  account?: AdminAccount;
}

/**
 * `ADMIN_EMAIL` with `ADMIN_PASSWORD` or `ADMIN_PASSWORD_FILE` (a Docker secret): the administrator
 * created at start when no account has that email. Both or neither; either alone stops the app.
 */
export const adminBootstrapConfig = registerAs('adminBootstrap', (): AdminBootstrapConfig => {
  const env = validateEnv(AdminBootstrapEnv, process.env, { fileSecrets: ['ADMIN_PASSWORD'] });
  const file = process.env.ADMIN_PASSWORD_FILE;
  if (file && env.ADMIN_PASSWORD === undefined) {
    throw new Error(`Invalid configuration: ADMIN_PASSWORD_FILE: ${file} is empty`);
  }
  if (env.ADMIN_EMAIL === undefined && env.ADMIN_PASSWORD === undefined) return {};
  if (env.ADMIN_PASSWORD === undefined) {
    throw new Error(
      'Invalid configuration: ADMIN_PASSWORD: set ADMIN_PASSWORD or ADMIN_PASSWORD_FILE with ADMIN_EMAIL',
    );
  }
  if (env.ADMIN_EMAIL === undefined) {
    throw new Error('Invalid configuration: ADMIN_EMAIL: set it with the administrator password');
  }
  return { account: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } };
});
