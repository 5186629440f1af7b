import { CommonHttpModule, OpenApiInfo, serverConfig, ServiceMetricsModule } from '@app/common';
import {
  CreateIdempotencyRecords1765000000000,
  CreateStorageProbe1765000000100,
  DatabaseModule,
  ServiceHealthModule,
} from '@app/database';
import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { CreateUsers1764150000000 } from './migrations/1764150000000-create-users';
import { AddEmailSkeleton1765000000200 } from './migrations/1765000000200-add-email-skeleton';
import { UsersModule } from './users/users.module';
import { seedUsers } from './users/users.seed';

export const USER_SERVICE_API: OpenApiInfo = {
  title: 'user-service',
  description: 'Users: registration, profiles and roles.',
};

@Module({
  imports: [
    ConfigModule.forRoot({ ignoreEnvFile: true, load: [serverConfig(3002)] }),
    CommonHttpModule.forRoot({ service: 'user-service' }),
    ServiceMetricsModule,
    DatabaseModule.forRoot({
      defaultFile: 'users.db',
      migrations: [
        CreateUsers1764150000000,
        CreateIdempotencyRecords1765000000000,
        CreateStorageProbe1765000000100,
        AddEmailSkeleton1765000000200,
      ],
      seed: seedUsers,
    }),
    ServiceHealthModule,
    UsersModule,
  ],
})
export class UserServiceModule {}
