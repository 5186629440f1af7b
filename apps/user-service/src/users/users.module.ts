import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { IdempotencyModule } from '@app/database';
import { TypeOrmModule } from '@nestjs/typeorm';
import { adminBootstrapConfig } from './admin-bootstrap.config';
import { AdminBootstrap } from './admin-bootstrap.service';
import { CredentialsController } from './credentials.controller';
import { IdentityGuard } from './identity.guard';
import { PasswordHasher } from './password-hasher';
import { SessionRevoker } from './session-revoker';
import { sessionsConfig } from './sessions.config';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    ConfigModule.forFeature(adminBootstrapConfig),
    ConfigModule.forFeature(sessionsConfig),
    IdempotencyModule,
  ],
  // The internal controller first, so its fixed path is registered ahead of `/:id`.
  controllers: [CredentialsController, UsersController],
  providers: [
    UsersService,
    IdentityGuard,
    AdminBootstrap,
    SessionRevoker,
    { provide: PasswordHasher, useValue: new PasswordHasher() },
  ],
})
export class UsersModule {}
