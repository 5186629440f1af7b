import { Module } from '@nestjs/common';
import { GatewayAuthModule } from '../auth/gateway-auth.module';
import { ProxyModule } from '../proxy/proxy.module';
import { RoutingModule } from '../routing/routing.module';
import { DashboardAssets } from './dashboard-assets';
import { DashboardController } from './dashboard.controller';
import { StatusController } from './status.controller';
import { StatusService } from './status.service';

/** The admin status API (`/api/admin/status`) and the dashboard page over it (`/dashboard`). */
@Module({
  imports: [RoutingModule, ProxyModule, GatewayAuthModule],
  controllers: [StatusController, DashboardController],
  providers: [StatusService, DashboardAssets],
})
export class AdminModule {}
