import { bootstrapApp } from '@app/common';
import { ProductServiceModule } from './product-service.module';

void bootstrapApp(ProductServiceModule);
