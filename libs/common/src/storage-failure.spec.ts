import { isStorageUnavailable } from './storage-failure';

const driver = (code: string, message = 'failed') =>
  Object.assign(new Error('query failed'), {
    driverError: Object.assign(new Error(message), { code }),
  });

describe('isStorageUnavailable', () => {
  it.each([
    'SQLITE_FULL',
    'SQLITE_IOERR',
    'SQLITE_IOERR_WRITE',
    'SQLITE_READONLY',
    'SQLITE_READONLY_DBMOVED',
    'SQLITE_BUSY',
    'SQLITE_BUSY_SNAPSHOT',
    'SQLITE_CANTOPEN',
    '53100',
    '53300',
    '57P01',
    '57P03',
    '08006',
    '25006',
    'ECONNREFUSED',
  ])('should take %s for a database that cannot store data now', (code) => {
    expect(isStorageUnavailable(driver(code))).toBe(true);
    expect(isStorageUnavailable(Object.assign(new Error('x'), { code }))).toBe(true);
  });

  it('should recognise node-postgres losing its connection by its message', () => {
    expect(isStorageUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it.each(['SQLITE_CONSTRAINT_UNIQUE', '23505', '22P02', 'SQLITE_ERROR', '42P01'])(
    'should leave %s (a fault of the request or the code) alone',
    (code) => {
      expect(isStorageUnavailable(driver(code))).toBe(false);
    },
  );

  it('should leave errors without a code alone', () => {
    expect(isStorageUnavailable(new Error('boom'))).toBe(false);
    expect(isStorageUnavailable(undefined)).toBe(false);
  });
});
