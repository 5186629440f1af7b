import { bootstrapApp, setupOpenApi } from '@app/common';
import { PRODUCT_SERVICE_API, ProductServiceModule } from './product-service.module';

void bootstrapApp(ProductServiceModule, {
  configure: (app) => {
    setupOpenApi(app, PRODUCT_SERVICE_API);
  },
});
