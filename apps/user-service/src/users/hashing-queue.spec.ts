import { RetryLaterException } from '@app/common';
import { HashingQueue } from './hashing-queue';

describe('HashingQueue', () => {
  function gate() {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  }

  it('should run at most `concurrency` at once and start waiting logins before writes', async () => {
    const queue = new HashingQueue({
      concurrency: 1,
      waiting: { verify: 5, write: 5 },
      retryAfterSeconds: 1,
    });
    const order: string[] = [];
    const first = gate();
    const running = queue.run('write', async () => {
      order.push('write-0');
      await first.opened;
    });
    const later = [
      queue.run('write', () => Promise.resolve(void order.push('write-1'))),
      queue.run('verify', () => Promise.resolve(void order.push('verify-1'))),
      queue.run('write', () => Promise.resolve(void order.push('write-2'))),
      queue.run('verify', () => Promise.resolve(void order.push('verify-2'))),
    ];
    expect(order).toEqual(['write-0']);
    first.open();
    await Promise.all([running, ...later]);
    expect(order).toEqual(['write-0', 'verify-1', 'verify-2', 'write-1', 'write-2']);
  });

  it('should refuse with 503 and a Retry-After once a lane is full, and free the slot after a failure', async () => {
    const queue = new HashingQueue({
      concurrency: 1,
      waiting: { verify: 1, write: 1 },
      retryAfterSeconds: 3,
    });
    const first = gate();
    const running = queue.run('write', () => first.opened);
    const waiting = queue.run('write', () => Promise.reject(new Error('scrypt failed')));
    const refused = queue.run('write', () => Promise.resolve('never'));
    await expect(refused).rejects.toBeInstanceOf(RetryLaterException);
    await expect(refused).rejects.toMatchObject({ retryAfterSeconds: 3, status: 503 });
    // The verify lane has its own room.
    const login = queue.run('verify', () => Promise.resolve('ok'));
    first.open();
    await running;
    await expect(login).resolves.toBe('ok');
    await expect(waiting).rejects.toThrow('scrypt failed');
    await expect(queue.run('write', () => Promise.resolve('again'))).resolves.toBe('again');
  });
});
