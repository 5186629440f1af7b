import { bootstrapApp } from '@app/common';
import { UserServiceModule } from './user-service.module';

void bootstrapApp(UserServiceModule);
