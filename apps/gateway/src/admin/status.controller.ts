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
      required: ['generatedAt', 'uptimeSeconds', 'services', 'config'],
      properties: {
        generatedAt: { type: 'string', format: 'date-time' },
        uptimeSeconds: { type: 'number' },
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
