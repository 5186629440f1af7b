import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateUserBody, UpdateUserBody, VerifyCredentialsBody } from './user-input.dto';

function messages(errors: ReturnType<typeof validateSync>): string[] {
  return errors.flatMap((e) => Object.values(e.constraints ?? {}));
}

describe('user input bodies', () => {
  it('should trim and lower-case the email before validating it', () => {
    const body = plainToInstance(CreateUserBody, {
      name: 'Ada',
      email: '  Ada@Example.COM ',
      password: 'long-enough',
    });
    expect(body.email).toBe('ada@example.com');
    expect(validateSync(body)).toEqual([]);
    const login = plainToInstance(VerifyCredentialsBody, { email: 'X@Y.io ', password: 'p' });
    expect(login.email).toBe('x@y.io');
  });

  it('should keep the contract rules: a bad email and a short password are refused', () => {
    const body = plainToInstance(CreateUserBody, { name: 'A', email: 'nope', password: 'short' });
    expect(messages(validateSync(body))).toEqual([
      'email must be an email',
      'password must be longer than or equal to 8 characters',
    ]);
  });

  it('should leave every field of an update optional', () => {
    expect(validateSync(plainToInstance(UpdateUserBody, {}))).toEqual([]);
    const bad = plainToInstance(UpdateUserBody, { email: ' NOT AN EMAIL ' });
    expect(messages(validateSync(bad))).toEqual([
      'email must be an email',
      'email must not contain quotes, backslashes or spaces',
    ]);
  });
});
