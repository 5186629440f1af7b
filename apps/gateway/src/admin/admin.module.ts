import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { ProxyModule } from '../proxy/proxy.module';
import { ReloadModule } from '../reload/reload.module';
import { DashboardAssets } from './dashboard-assets';
import { DashboardController } from './dashboard.controller';
import { StatusController } from './status.controller';
import { StatusService } from './status.service';

/** The admin status API (`/api/admin/status`) and the dashboard page over it (`/dashboard`). */
@Module({
  imports: [ProxyModule, ReloadModule, AuthModule],
  controllers: [StatusController, DashboardController],
  providers: [StatusService, DashboardAssets],
})
export class AdminModule {}
