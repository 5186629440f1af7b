import { registerAs } from '@nestjs/config';
import { IsIn, IsInt, IsString, Max, Min } from 'class-validator';
import { validateEnv } from './env-validation';

class ServerEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 0;

  @IsString()
  HOST: string = '127.0.0.1';

  @IsIn(['development', 'production', 'test'])
  NODE_ENV: string = 'development';
}

export interface ServerConfig {
  port: number;
  host: string;
  production: boolean;
}

export const SERVER_CONFIG = 'server';

/** `PORT`, `HOST` and `NODE_ENV` of one app, with the app's own default port. */
export function serverConfig(defaultPort: number) {
  return registerAs(SERVER_CONFIG, (): ServerConfig => {
    const env = validateEnv(ServerEnv, { PORT: String(defaultPort), ...process.env });
    return { port: env.PORT, host: env.HOST, production: env.NODE_ENV === 'production' };
  });
}
