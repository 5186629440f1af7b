import { validateEnv } from '@app/common';
import { registerAs } from '@nestjs/config';
import { IsInt, Max, Min, ValidateBy, ValidationOptions } from 'class-validator';

/** Splits a comma-separated list of base URLs, trimming blanks and trailing slashes. */
export function parseUrlList(value: string): string[] {
  return value
    .split(',')
    .map((url) => url.trim().replace(/\/+$/, ''))
    .filter((url) => url.length > 0);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash;
  } catch {
    return false;
  }
}

/** A non-empty comma-separated list of http(s) base URLs. */
function IsHttpUrlList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isHttpUrlList',
      validator: {
        validate: (value: unknown) => {
          if (typeof value !== 'string') return false;
          const urls = parseUrlList(value);
          return urls.length > 0 && urls.every(isHttpUrl);
        },
        defaultMessage: (args) =>
          `${args?.property} must be a comma-separated list of http(s) URLs, got ${JSON.stringify(args?.value)}`,
      },
    },
    options,
  );
}

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
