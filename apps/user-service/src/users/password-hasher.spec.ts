import { PasswordHasher } from './password-hasher';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher();

  it('should store the cost, a 16-byte salt and a 64-byte key in a self-describing string', async () => {
    const stored = await hasher.hash('correct horse battery staple');
    const [scheme, logN, r, p, salt, key] = stored.split('$');
    expect([scheme, logN, r, p]).toEqual(['scrypt', '14', '8', '1']);
    expect(Buffer.from(salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(key, 'base64')).toHaveLength(64);
    expect(stored).not.toContain('correct horse');
  });

  it('should salt every hash: the same password hashes differently twice', async () => {
    const [a, b] = await Promise.all([hasher.hash('same-password'), hasher.hash('same-password')]);
    expect(a).not.toBe(b);
    await expect(hasher.verify('same-password', a)).resolves.toBe(true);
    await expect(hasher.verify('same-password', b)).resolves.toBe(true);
  });

  it('should accept the right password and refuse a wrong one', async () => {
    const stored = await hasher.hash('s3cret-password');
    await expect(hasher.verify('s3cret-password', stored)).resolves.toBe(true);
    await expect(hasher.verify('s3cret-passwore', stored)).resolves.toBe(false);
    await expect(hasher.verify('', stored)).resolves.toBe(false);
  });

  it('should verify a hash made with another cost, read from the stored string', async () => {
    const cheap = new PasswordHasher({ logN: 10, r: 4, p: 2 });
    const stored = await cheap.hash('old-password');
    expect(stored.startsWith('scrypt$10$4$2$')).toBe(true);
    await expect(hasher.verify('old-password', stored)).resolves.toBe(true);
  });

  it('should answer false, after doing the same work, when there is no stored hash', async () => {
    await expect(hasher.verify('anything', undefined)).resolves.toBe(false);
  });

  it.each([
    ['empty', ''],
    ['another scheme', 'bcrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA'],
    ['too few fields', 'scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA=='],
    ['a cost past the limits', 'scrypt$30$8$1$AAAAAAAAAAAAAAAAAAAAAA==$' + 'A'.repeat(88)],
    ['a non-numeric cost', 'scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$' + 'A'.repeat(88)],
    ['a short salt', 'scrypt$14$8$1$AAAA$' + 'A'.repeat(88)],
  ])('should refuse a malformed stored hash (%s) without throwing', async (_case, stored) => {
    await expect(hasher.verify('password', stored)).resolves.toBe(false);
  });
});
