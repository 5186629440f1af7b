import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { TokenStore } from './token-store';

/**
 * The token store's state for `/health/ready`. It reports an unreachable Redis (`reachable: false`)
 * but stays up, like the routes indicator's upstreams: without Redis only protected routes fail (closed,
 * with 503) while public routes keep working, so taking the whole gateway out of the load balancer
 * (or having Swarm restart every replica) would turn a partial outage into a full one.
 */
@Injectable()
export class TokenStoreHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly store: TokenStore,
  ) {}

  async check<const Key extends string = 'tokenStore'>(key: Key = 'tokenStore' as Key) {
    const session = this.indicators.check(key);
    if (this.store.kind === 'memory') {
      return session.up({ store: 'memory', reachable: true, scope: 'this instance only' });
    }
    try {
      await this.store.ping();
    } catch (err) {
      return session.up({
        store: 'redis',
        reachable: false,
        protectedRoutes: 'refused with 503 until Redis answers',
        error: (err as Error).message,
      });
    }
    return session.up({
      store: 'redis',
      reachable: true,
      revocationCache: this.store.cacheCoherent() ? 'on' : 'off',
    });
  }
}
