import { canonicalEmail, CreateUserDto, UpdateUserDto, VerifyCredentialsDto } from '@app/contracts';
import { Transform } from 'class-transformer';

// The shared contracts validate; these bodies add the normalisation (`canonicalEmail`: one spelling
// per address, so " Ada@Example.COM " and ada@example.com are one user), which runs before
// validation so that a padded address is accepted rather than refused by @IsEmail.

export class CreateUserBody extends CreateUserDto {}

export class UpdateUserBody extends UpdateUserDto {}

export class VerifyCredentialsBody extends VerifyCredentialsDto {}

// Applied by hand: redeclaring the inherited field to decorate it would reset it under ES2022 fields.
for (const body of [CreateUserBody, UpdateUserBody, VerifyCredentialsBody]) {
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? canonicalEmail(value) : value,
  )(body.prototype, 'email');
}
