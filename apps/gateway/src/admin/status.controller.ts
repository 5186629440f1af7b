import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
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
  report(): GatewayStatus {
    return this.status.report();
  }
}
