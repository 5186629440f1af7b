import { validateEnv } from '@app/common';
import { registerAs } from '@nestjs/config';
import { IsIn, IsString } from 'class-validator';

class GatewayEnv {
  @IsString()
  GATEWAY_CONFIG: string = 'config/gateway.local.yaml';

  @IsIn(['true', 'false'])
  GATEWAY_ACCESS_LOG: string = 'true';

  @IsIn(['true', 'false'])
  GATEWAY_CONFIG_WATCH: string = 'true';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL: string = 'info';
}

export interface GatewaySettings {
  /** Path of the routes config file, relative to the working directory. */
  configFile: string;
  /** One JSON line per proxied request, at level info. */
  accessLog: boolean;
  /** Reload the config when its file changes (SIGHUP reloads it either way). */
  watchConfig: boolean;
  logLevel: string;
}

export const GATEWAY_SETTINGS = 'gateway';

/** The gateway's own environment: `GATEWAY_CONFIG`, `GATEWAY_CONFIG_WATCH`, `GATEWAY_ACCESS_LOG`, `LOG_LEVEL`. */
export const gatewaySettings = registerAs(GATEWAY_SETTINGS, (): GatewaySettings => {
  const env = validateEnv(GatewayEnv);
  return {
    configFile: env.GATEWAY_CONFIG,
    accessLog: env.GATEWAY_ACCESS_LOG === 'true',
    watchConfig: env.GATEWAY_CONFIG_WATCH === 'true',
    logLevel: env.LOG_LEVEL,
  };
});
