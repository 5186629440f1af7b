import { ApiErrors } from '@app/common';
import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { JwtAuthGuard, RequireRole } from '../auth/jwt-auth.guard';
import { GatewayStatus, StatusService } from './status.service';

/** `/api/admin/**`: served by the gateway itself, for users holding the admin role. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('api/admin')
@UseGuards(JwtAuthGuard)
@RequireRole('admin')
export class StatusController {
  constructor(private readonly status: StatusService) {}

  /** Every service with its targets' health, load and recent traffic, and the loaded config. */
  @Get('status')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Every service with its targets’ health, load and recent traffic; the loaded config',
    description: 'Requires the `admin` role.',
  })
  @ApiOkResponse({
    schema: {
      type: 'object',
      required: [
        'generatedAt',
        'uptimeSeconds',
        'configVersion',
        'lastReload',
        'services',
        'config',
      ],
      properties: {
        generatedAt: { type: 'string', format: 'date-time' },
        uptimeSeconds: { type: 'number' },
        configVersion: {
          type: 'object',
          description: 'The config in effect: 1 at start, one more per reload that took effect',
          properties: {
            number: { type: 'integer' },
            digest: { type: 'string', description: 'SHA-256 of the file, first 12 hex digits' },
            loadedAt: { type: 'string', format: 'date-time' },
          },
        },
        lastReload: {
          type: 'object',
          nullable: true,
          description: 'The last reload that changed something or failed (null before one)',
          properties: {
            at: { type: 'string', format: 'date-time' },
            trigger: { type: 'string', enum: ['SIGHUP', 'file'] },
            result: { type: 'string', enum: ['success', 'invalid', 'error', 'unchanged'] },
            error: { type: 'string', nullable: true },
          },
        },
        services: {
          type: 'array',
          description: 'Each routed service: its targets (up, down or ejected), load and traffic',
          items: { type: 'object' },
        },
        config: {
          type: 'object',
          description:
            'The effective route config, without secrets: every key of config/gateway.schema.json ' +
            'with its default applied, `defaults` folded into each service',
          properties: {
            source: { type: 'string' },
            trustedProxyHops: { type: 'integer' },
            tls: { type: 'object', description: 'Answers on the TLS listener (HSTS)' },
            services: { type: 'array', items: { type: 'object' } },
          },
        },
      },
    },
  })
  @ApiErrors(401, 403)
  report(): GatewayStatus {
    return this.status.report();
  }
}
