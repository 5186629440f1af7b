import { OpenApiInfo, setupOpenApi } from '@app/common';
import type { INestApplication } from '@nestjs/common';
import { AdminModule } from '../admin/admin.module';
import { AuthModule } from '../auth/auth.module';
import { ApiCatalog } from './api-catalog';

/** The gateway's own API: its controllers outside these modules (health, metrics, docs) are not. */
const GATEWAY_API: OpenApiInfo = {
  title: 'gateway',
  description: 'Sign-in, tokens and the admin status report, served by the gateway itself.',
  include: [AuthModule, AdminModule],
};

/**
 * Documents the gateway's own endpoints at `/docs-json` and hands that document to the combined
 * one at `/docs/openapi.json`. Call before the app listens.
 */
export function setupGatewayOpenApi(app: INestApplication): void {
  app.get(ApiCatalog).useGatewayDocument(setupOpenApi(app, GATEWAY_API));
}
