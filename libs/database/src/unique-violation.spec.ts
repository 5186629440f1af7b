import { QueryFailedError } from 'typeorm';
import { isUniqueViolation } from './unique-violation';

function failed(code: string): QueryFailedError {
  return new QueryFailedError('INSERT ...', [], Object.assign(new Error('constraint'), { code }));
}

describe('isUniqueViolation', () => {
  it('should recognise PostgreSQL and SQLite unique violations', () => {
    expect(isUniqueViolation(failed('23505'))).toBe(true);
    expect(isUniqueViolation(failed('SQLITE_CONSTRAINT_UNIQUE'))).toBe(true);
  });

  it('should not mistake other failures for a unique violation', () => {
    expect(isUniqueViolation(failed('23502'))).toBe(false);
    expect(isUniqueViolation(failed('SQLITE_CONSTRAINT_NOTNULL'))).toBe(false);
    expect(isUniqueViolation(Object.assign(new Error('x'), { code: '23505' }))).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
  });
});
