import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { validateEnv } from './env-validation';
import { loadTlsSettings, TlsSettings } from './tls/tls-settings';

class ServerEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 0;

  @IsString()
  HOST: string = '127.0.0.1';

  @IsIn(['development', 'production', 'test'])
  NODE_ENV: string = 'development';

  @IsInt()
  @Min(1_000)
  @Max(300_000)
  HTTP_HEADERS_TIMEOUT_MS: number = 10_000;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(60_000)
  DRAIN_DELAY_MS?: number = undefined;

  @IsInt()
  @Min(0)
  @Max(300_000)
  DRAIN_TIMEOUT_MS: number = 10_000;
}

/** The gateway's default active health check (every 5 s, 1 s timeout) sees the 503 in time. */
const PRODUCTION_DRAIN_DELAY_MS = 6_000;
/** Local stops and test processes should not wait long; a rolling-restart test sets its own. */
const DEFAULT_DRAIN_DELAY_MS = 1_000;

export interface ServerConfig {
  port: number;
  host: string;
  production: boolean;
  /** A client that has not sent its whole header block by then loses its connection (slowloris). */
  headersTimeoutMs: number;
  /** After SIGTERM, readiness answers 503 and the app keeps serving this long, then stops listening. */
  drainDelayMs: number;
  /** Then requests in flight may take this long to finish before their connections are cut. */
  drainTimeoutMs: number;
  /**
   * The TLS listener beside the plain one (`TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_PORT`), or `null`;
   * always `null` for an app that is not the edge.
   */
  tls: TlsSettings | null;
}

export const SERVER_CONFIG = 'server';

/**
 * `PORT`, `HOST`, `NODE_ENV`, `HTTP_HEADERS_TIMEOUT_MS` and the drain settings `DRAIN_DELAY_MS`
 * (6 s in production, 1 s otherwise) and `DRAIN_TIMEOUT_MS` of one app, with the app's own
 * default port; and, for the edge (`{ tls: true }`: the gateway), the optional TLS listener (see
 * `loadTlsSettings`). The services behind it never read the TLS variables, so that one environment
 * can start every process, as `npm start` does, without each of them claiming `TLS_PORT`.
 */
export function serverConfig(defaultPort: number, options: { tls?: boolean } = {}) {
  return registerAs(SERVER_CONFIG, (): ServerConfig => {
    const env = validateEnv(ServerEnv, { PORT: String(defaultPort), ...process.env });
    const production = env.NODE_ENV === 'production';
    return {
      port: env.PORT,
      host: env.HOST,
      production,
      headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
      drainDelayMs:
        env.DRAIN_DELAY_MS ?? (production ? PRODUCTION_DRAIN_DELAY_MS : DEFAULT_DRAIN_DELAY_MS),
      drainTimeoutMs: env.DRAIN_TIMEOUT_MS,
      tls: options.tls ? loadTlsSettings(process.env) : null,
    };
  });
}
