import { ConfigType } from '@nestjs/config';
import type { GatewayConfig } from '../routing/gateway-config';
import { RoutingModule } from '../routing/routing.module';
import { GATEWAY_CONFIG } from '../routing/routing.tokens';
import { authConfig } from './auth.config';
import { AuthModule } from './auth.module';

/** The route config's service whose replicas check credentials at login. */
export const USER_SERVICE_NAME = 'user-service';

/**
 * AuthModule as the gateway runs it: logins go to the replicas of the `user-service` route
 * (`AUTH_USER_SERVICE_URLS` only when the route config has no such service), and login attempts
 * count by client address behind the route config's `trustedProxyHops`. One constant, so
 * the modules that import it (gateway, proxy, health) share one instance.
 */
export const GatewayAuthModule = AuthModule.forRoot({
  imports: [RoutingModule],
  userServiceUrls: {
    inject: [GATEWAY_CONFIG, authConfig.KEY],
    useFactory: (gateway: GatewayConfig, auth: ConfigType<typeof authConfig>) => {
      const targets = gateway.services.find((s) => s.name === USER_SERVICE_NAME)?.targets;
      const urls = targets && targets.length > 0 ? targets : auth.userServiceUrls;
      return () => urls;
    },
  },
  trustedProxyHops: {
    inject: [GATEWAY_CONFIG],
    useFactory: (gateway: GatewayConfig) => gateway.trustedProxyHops,
  },
});
