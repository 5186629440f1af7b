import { APP_PINO, ShutdownState } from '@app/common';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Revocation, TokenStore } from '../../auth/token-store/token-store';
import type { WebSocketsConfig } from '../../routing/gateway-config';
import { CLOSE_CODES, Tunnel } from './tunnel';

/** Whether a new tunnel fits the limits; a place is held for it until `release` or `add`. */
export type Admission = 'admitted' | 'gateway-limit' | 'user-limit';

/**
 * The open tunnels of this gateway: the limits on them (per gateway, per user), and the closes
 * that come from outside a tunnel. A revocation, which the token store spreads to every instance,
 * closes that token's tunnels (or all of a user's) with 1008 at once; after the drain delay of a
 * shutdown every tunnel gets 1001.
 */
@Injectable()
export class TunnelRegistry implements BeforeApplicationShutdown {
  private readonly tunnels = new Set<Tunnel>();
  /** Open tunnels and handshakes under way, by owner key. */
  private readonly byOwner = new Map<string, number>();
  /** Tunnels of signed-in users, by `sub`, for revocations. */
  private readonly bySub = new Map<string, Set<Tunnel>>();
  /** Open tunnels by service name (a reload may renumber services, never rename one's tunnels). */
  private readonly perService = new Map<string, number>();
  /** Open tunnels plus handshakes under way. */
  private held = 0;

  constructor(
    private readonly store: TokenStore,
    shutdown: ShutdownState,
    @Inject(APP_PINO) private readonly logger: Logger,
  ) {
    // Revocations are rare and a reload may turn a service's WebSockets on: always listened to.
    store.onRevocation((revocation) => this.revoked(revocation));
    shutdown.onListenerClosing(() => this.closeAll(CLOSE_CODES.goingAway, 'gateway shutting down'));
  }

  /** Open tunnels of the service with this name. */
  openFor(service: string): number {
    return this.perService.get(service) ?? 0;
  }

  get open(): number {
    return this.tunnels.size;
  }

  /** Holds a place for a tunnel of `owner`, or says which of the `limits` it is over. */
  admit(owner: string, limits: WebSocketsConfig): Admission {
    if (this.held >= limits.maxTunnels) return 'gateway-limit';
    const ownerCount = this.byOwner.get(owner) ?? 0;
    if (ownerCount >= limits.maxTunnelsPerUser) return 'user-limit';
    this.held += 1;
    this.byOwner.set(owner, ownerCount + 1);
    return 'admitted';
  }

  /** Gives back a place that `admit` held, for a handshake that did not become a tunnel. */
  release(owner: string): void {
    this.held -= 1;
    const left = (this.byOwner.get(owner) ?? 1) - 1;
    if (left === 0) this.byOwner.delete(owner);
    else this.byOwner.set(owner, left);
  }

  /** The tunnel that an admitted handshake became. */
  add(tunnel: Tunnel): void {
    this.tunnels.add(tunnel);
    const service = tunnel.owner.service;
    this.perService.set(service, (this.perService.get(service) ?? 0) + 1);
    const sub = tunnel.owner.principal?.claims.sub;
    if (sub === undefined) return;
    let tunnels = this.bySub.get(sub);
    if (!tunnels) this.bySub.set(sub, (tunnels = new Set()));
    tunnels.add(tunnel);
  }

  /** A tunnel both of whose sides have closed. */
  remove(tunnel: Tunnel): void {
    if (!this.tunnels.delete(tunnel)) return;
    const service = tunnel.owner.service;
    const left = (this.perService.get(service) ?? 1) - 1;
    if (left === 0) this.perService.delete(service);
    else this.perService.set(service, left);
    this.release(tunnel.owner.key);
    const sub = tunnel.owner.principal?.claims.sub;
    if (sub === undefined) return;
    const tunnels = this.bySub.get(sub);
    tunnels?.delete(tunnel);
    if (tunnels?.size === 0) this.bySub.delete(sub);
  }

  closeAll(code: number, reason: string): void {
    for (const tunnel of this.tunnels) tunnel.close(code, reason);
  }

  beforeApplicationShutdown(): void {
    // Without a drain (an app closed directly) the tunnels still get their close frames, and
    // before the HTTP server closes: it would wait for them.
    this.closeAll(CLOSE_CODES.goingAway, 'gateway shutting down');
  }

  private revoked(revocation: Revocation | 'all'): void {
    if (revocation === 'all') {
      this.recheckAll();
      return;
    }
    const tunnels = this.bySub.get(revocation.sub);
    if (tunnels === undefined) return;
    for (const tunnel of tunnels) {
      if (revocation.jti === undefined || tunnel.owner.principal?.claims.jti === revocation.jti) {
        tunnel.close(CLOSE_CODES.policyViolation, 'token revoked');
      }
    }
  }

  /**
   * Revocations may have been missed (the store's event stream was lost): every signed-in
   * tunnel's token is asked for again. One that cannot be asked stays open, as a request with a
   * cached token would be served, until the store answers again.
   */
  private recheckAll(): void {
    const checks: Promise<boolean>[] = [];
    for (const tunnels of this.bySub.values()) {
      for (const tunnel of tunnels) {
        const { jti, sub } = tunnel.owner.principal!.claims;
        checks.push(
          this.store.isLive(jti, sub).then(
            (live) => {
              if (!live) tunnel.close(CLOSE_CODES.policyViolation, 'token revoked');
              return true;
            },
            () => false,
          ),
        );
      }
    }
    void Promise.all(checks).then((answered) => {
      const unchecked = answered.filter((ok) => !ok).length;
      if (unchecked > 0) {
        this.logger.warn({ msg: 'tunnel tokens could not be checked again', unchecked });
      }
    });
  }
}
