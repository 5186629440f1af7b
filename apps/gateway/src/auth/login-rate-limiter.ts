import { canonicalEmail } from '@app/contracts';
import { createHash } from 'node:crypto';
import type { RateLimitStore } from '../redis/rate-limit-store';

export interface LoginLimits {
  perIp: number;
  perEmail: number;
  windowSeconds: number;
}

export type LoginAdmission = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const ALLOWED: LoginAdmission = Object.freeze({ allowed: true });

/**
 * Login attempts per client address and per email address, counted before the password is checked
 * (so guessing costs attempts whatever the answer). Emails are hashed so keys carry no address.
 */
export class LoginRateLimiter {
  constructor(
    private readonly counter: RateLimitStore,
    private readonly limits: LoginLimits,
  ) {}

  async admit(clientIp: string, email: string): Promise<LoginAdmission> {
    const emailKey = createHash('sha256').update(canonicalEmail(email)).digest('base64url');
    const windowMs = this.limits.windowSeconds * 1000;
    const [ip, mail] = await this.counter.hit(
      [`ip:${clientIp}`, `email:${emailKey}`],
      [windowMs, windowMs],
    );
    const over = [
      ip.count > this.limits.perIp ? ip.resetInMs : -1,
      mail.count > this.limits.perEmail ? mail.resetInMs : -1,
    ].filter((ms) => ms >= 0);
    if (over.length === 0) return ALLOWED;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...over) / 1000)) };
  }
}
