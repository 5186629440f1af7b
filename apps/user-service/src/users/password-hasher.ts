import { Injectable } from '@nestjs/common';
import { randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';
import { HashingQueue } from './hashing-queue';

export interface ScryptCost {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/** 2^14 x 8 takes 16 MiB and ~50 ms per hash: OWASP's minimum for scrypt. */
const DEFAULT_SCRYPT_COST: ScryptCost = { logN: 14, r: 8, p: 1 };

const SALT_BYTES = 16;
const KEY_BYTES = 64;
const PREFIX = 'scrypt';

/** Bounds on stored parameters, so a corrupt row cannot make one login burn gigabytes. */
const LIMITS = { logN: [10, 20], r: [1, 32], p: [1, 16] } as const;

interface ParsedHash {
  cost: ScryptCost;
  salt: Buffer;
  key: Buffer;
}

/**
 * Hashes passwords with scrypt (memory-hard) into a self-describing string,
 * `scrypt$<logN>$<r>$<p>$<salt b64>$<key b64>`, so the cost can rise later without breaking old rows.
 */
@Injectable()
export class PasswordHasher {
  private dummyHash?: Promise<string>;

  constructor(
    private readonly cost: ScryptCost = DEFAULT_SCRYPT_COST,
    private readonly queue: HashingQueue = new HashingQueue(),
  ) {}

  /** Refused with 503 + `Retry-After` (`RetryLaterException`) while the write lane is full. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await this.queue.run('write', () => derive(password, salt, KEY_BYTES, this.cost));
    const { logN, r, p } = this.cost;
    return [PREFIX, logN, r, p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  /**
   * Whether `password` matches `stored`. With no stored hash (unknown user) it still runs one scrypt
   * against a dummy and answers false, so the caller cannot tell the two cases apart by timing.
   */
  async verify(password: string, stored: string | undefined): Promise<boolean> {
    const parsed = parse(stored ?? (await this.dummy()));
    if (!parsed) return false;
    const key = await this.queue.run('verify', () =>
      derive(password, parsed.salt, parsed.key.length, parsed.cost),
    );
    return timingSafeEqual(key, parsed.key) && stored !== undefined;
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= this.hash(randomBytes(32).toString('base64'));
    return this.dummyHash;
  }
}

function parse(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const [logN, r, p] = parts.slice(1, 4).map((n) => (/^\d{1,3}$/.test(n) ? Number(n) : NaN));
  const cost = { logN, r, p };
  for (const [name, [min, max]] of Object.entries(LIMITS)) {
    const value = cost[name as keyof ScryptCost];
    if (!(value >= min && value <= max)) return undefined;
  }
  const salt = Buffer.from(parts[4], 'base64');
  const key = Buffer.from(parts[5], 'base64');
  if (salt.length < SALT_BYTES || key.length < 32) return undefined;
  return { cost, salt, key };
}

function derive(
  password: string,
  salt: Buffer,
  keyLength: number,
  cost: ScryptCost,
): Promise<Buffer> {
  const N = 2 ** cost.logN;
  // scrypt needs 128 * N * r bytes; leave headroom over Node's 32 MiB default for higher costs.
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
