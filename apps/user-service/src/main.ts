import { bootstrapApp, setupOpenApi } from '@app/common';
import { USER_SERVICE_API, UserServiceModule } from './user-service.module';

void bootstrapApp(UserServiceModule, {
  configure: (app) => {
    setupOpenApi(app, USER_SERVICE_API);
  },
});
