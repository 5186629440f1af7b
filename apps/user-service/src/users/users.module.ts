import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CredentialsController } from './credentials.controller';
import { IdentityGuard } from './identity.guard';
import { PasswordHasher } from './password-hasher';
import { User } from './user.entity';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  imports: [TypeOrmModule.forFeature([User])],
  // The internal controller first, so its fixed path is registered ahead of `/:id`.
  controllers: [CredentialsController, UsersController],
  providers: [
    UsersService,
    IdentityGuard,
    { provide: PasswordHasher, useValue: new PasswordHasher() },
  ],
})
export class UsersModule {}
