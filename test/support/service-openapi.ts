import { OpenApiInfo, setupOpenApi } from '@app/common';
import { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';

/** A service app on a temporary SQLite file (or DATABASE_URL), serving its OpenAPI document. */
export class ServiceOpenApi {
  private app?: INestApplication;
  private readonly dir = mkdtempSync(join(tmpdir(), 'openapi-e2e-'));

  constructor(
    private readonly rootModule: Type<unknown>,
    private readonly info: OpenApiInfo,
  ) {}

  /** Starts the app and answers its `GET /docs-json`, which must be a 200 in JSON. */
  async document(): Promise<any> {
    process.env.DATABASE_PATH = join(this.dir, 'service.db');
    const moduleRef = await Test.createTestingModule({ imports: [this.rootModule] }).compile();
    this.app = moduleRef.createNestApplication({ logger: false });
    setupOpenApi(this.app, this.info);
    await this.app.init();
    const res = await request(this.app.getHttpServer()).get('/docs-json').expect(200);
    if (!/^application\/json/.test(String(res.headers['content-type']))) {
      throw new Error(`/docs-json answered ${String(res.headers['content-type'])}, not JSON`);
    }
    return res.body;
  }

  async close(): Promise<void> {
    await this.app?.close();
    delete process.env.DATABASE_PATH;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
