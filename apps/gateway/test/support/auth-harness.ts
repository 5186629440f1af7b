import { CommonHttpModule, serverConfig } from '@app/common';
import { Controller, Get, INestApplication, Type, UseGuards } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { createClient } from '@redis/client';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserServiceModule } from '../../../user-service/src/user-service.module';
import { AuthModule } from '../../src/auth/auth.module';
import { JwtAuthGuard, RequireRole } from '../../src/auth/jwt-auth.guard';
import { gatewaySettings } from '../../src/routing/gateway-env';
import { TEST_SECRET } from './auth-fixtures';
import { writeConfig } from './test-gateway';

export const ADMIN = { email: 'admin@example.com', password: 'admin-password-123' };
export const USER = { email: 'user@example.com', password: 'user-password-123' };

/** Runs `fn` with these variables set (undefined unsets one), then puts the environment back. */
export async function withEnv<T>(
  env: Record<string, string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) {
    saved[key] = process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return await fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

export function urlOf(app: INestApplication): string {
  const server = app.getHttpServer() as Server;
  const address = server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/** The real user-service in this process on an ephemeral port, with its own temporary database. */
export class UserServiceInstance {
  app!: INestApplication;
  private dir?: string;

  get url(): string {
    return urlOf(this.app);
  }

  async start(): Promise<this> {
    // An externally given DATABASE_URL (PostgreSQL) wins; otherwise a fresh SQLite file.
    const env: Record<string, string | undefined> = {};
    if (!process.env.DATABASE_URL) {
      this.dir = mkdtempSync(join(tmpdir(), 'auth-e2e-users-'));
      env.DATABASE_PATH = join(this.dir, 'users.db');
    }
    this.app = await withEnv({ ...env, SEED_DATA: 'true' }, async () => {
      const moduleRef = await Test.createTestingModule({ imports: [UserServiceModule] }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.listen(0, '127.0.0.1');
      return app;
    });
    return this;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Gateway endpoints to drive the guard over HTTP: one for admins, one open to anyone. */
@Controller('test')
class ProbeController {
  @Get('public')
  open(): { ok: true } {
    return { ok: true };
  }

  @Get('admin-only')
  @UseGuards(JwtAuthGuard)
  @RequireRole('admin')
  adminOnly(): { ok: true } {
    return { ok: true };
  }
}

/**
 * The route config of an app that proxies nothing: it names no `user-service`, so logins go to
 * `AUTH_USER_SERVICE_URLS`.
 */
const NO_USER_SERVICE_ROUTES = {
  services: [{ name: 'probe-service', basePath: '/api/probe', targets: ['http://127.0.0.1:9'] }],
};

/**
 * A small Nest app holding only what the gateway's auth needs: config, the common HTTP pipeline
 * (validation, error body, request ids) and AuthModule, configured by `env`.
 */
export async function startAuthApp(
  env: Record<string, string | undefined>,
  extraControllers: Type[] = [ProbeController],
): Promise<INestApplication> {
  const routes = writeConfig(NO_USER_SERVICE_ROUTES);
  try {
    return await withEnv(
      {
        JWT_SECRET: TEST_SECRET,
        NODE_ENV: 'test',
        REDIS_URL: undefined,
        GATEWAY_CONFIG: routes.file,
        ...env,
      },
      async () => {
        const moduleRef = await Test.createTestingModule({
          imports: [
            ConfigModule.forRoot({
              isGlobal: true,
              ignoreEnvFile: true,
              load: [serverConfig(0, { tls: true }), gatewaySettings],
            }),
            CommonHttpModule.forRoot({ service: 'gateway' }),
            AuthModule,
          ],
          controllers: extraControllers,
        }).compile();
        const app = moduleRef.createNestApplication({ logger: false });
        await app.listen(0, '127.0.0.1');
        return app;
      },
    );
  } finally {
    // Read once while the module compiled.
    routes.remove();
  }
}

/** A key prefix of this test run alone, so the shared Redis is never touched outside it. */
export function testKeyPrefix(): string {
  return `test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes the keys under `prefix` (and only those). */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  let deleted = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) deleted += await client.del(keys);
    }
  } finally {
    await client.close();
  }
  return deleted;
}

type JsonObject = Record<string, unknown>;

/** The decoded header and payload of a JWT, for assertions. */
export function decodeJwt(token: string): { header: JsonObject; payload: JsonObject } {
  const part = (i: number) =>
    JSON.parse(Buffer.from(token.split('.')[i] ?? '', 'base64url').toString()) as JsonObject;
  return { header: part(0), payload: part(1) };
}
