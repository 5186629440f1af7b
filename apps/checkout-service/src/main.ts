import { bootstrapApp } from '@app/common';
import { CheckoutServiceModule } from './checkout-service.module';

void bootstrapApp(CheckoutServiceModule);
