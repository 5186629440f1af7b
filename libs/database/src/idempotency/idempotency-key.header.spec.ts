import { BadRequestException } from '@nestjs/common';
import { IdempotencyKeyPipe } from './idempotency-key.header';

describe('IdempotencyKeyPipe', () => {
  const pipe = new IdempotencyKeyPipe();

  it('should pass an absent key through as absent', () => {
    expect(pipe.transform(undefined)).toBeUndefined();
  });

  it.each(['a', 'order-2024-06-01_42', '~!@#$%^&*()', 'x'.repeat(255)])(
    'should accept %p',
    (key) => {
      expect(pipe.transform(key)).toBe(key);
    },
  );

  it.each(['', 'has space', 'x'.repeat(256), 'tab\there', 'caf\u00e9', 'a, b'])(
    'should refuse %p with 400',
    (key) => {
      expect(() => pipe.transform(key)).toThrow(BadRequestException);
    },
  );
});
