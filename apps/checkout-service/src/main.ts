import { bootstrapApp, setupOpenApi } from '@app/common';
import { CHECKOUT_SERVICE_API, CheckoutServiceModule } from './checkout-service.module';

void bootstrapApp(CheckoutServiceModule, {
  configure: (app) => {
    setupOpenApi(app, CHECKOUT_SERVICE_API);
  },
});
