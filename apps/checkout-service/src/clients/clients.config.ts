import { IsHttpUrlList, parseUrlList, validateEnv } from '@app/common';
import { registerAs } from '@nestjs/config';
import { IsInt, Max, Min } from 'class-validator';

class ClientsEnv {
  @IsHttpUrlList()
  PRODUCT_SERVICE_URLS: string = 'http://127.0.0.1:3001,http://127.0.0.1:3003';

  @IsHttpUrlList()
  USER_SERVICE_URLS: string = 'http://127.0.0.1:3002,http://127.0.0.1:3004';

  @IsInt()
  @Min(1)
  @Max(60_000)
  UPSTREAM_TIMEOUT_MS: number = 2_000;

  @IsInt()
  @Min(1)
  @Max(10)
  UPSTREAM_ATTEMPTS: number = 3;
}

/** Where one peer service answers, and how patiently it is asked. */
export interface PeerConfig {
  /** Name used in logs and in the 503 message ("product-service unavailable"). */
  service: string;
  /** Base URLs of the peer's replicas, tried round-robin. */
  urls: string[];
  /** Bound on one try, connection to last byte. */
  timeoutMs: number;
  /** Tries per call across replicas, the first included. */
  attempts: number;
}

export interface ClientsConfig {
  product: PeerConfig;
  user: PeerConfig;
}

/** Replica URLs of the product and user services plus the per-call timeout and attempt bound. */
export const clientsConfig = registerAs('clients', (): ClientsConfig => {
  const env = validateEnv(ClientsEnv);
  const common = { timeoutMs: env.UPSTREAM_TIMEOUT_MS, attempts: env.UPSTREAM_ATTEMPTS };
  return {
    product: {
      service: 'product-service',
      urls: parseUrlList(env.PRODUCT_SERVICE_URLS),
      ...common,
    },
    user: { service: 'user-service', urls: parseUrlList(env.USER_SERVICE_URLS), ...common },
  };
});
