import { Module } from '@nestjs/common';
import { ProxyModule } from '../proxy/proxy.module';
import { API_CATALOG_OPTIONS, ApiCatalog, DEFAULT_API_CATALOG_OPTIONS } from './api-catalog';
import { ApiDocsController } from './api-docs.controller';
import { ServiceDocsClient } from './service-docs.client';

/** API documentation: Swagger UI at `/docs` over the gateway's and the services' documents. */
@Module({
  imports: [ProxyModule],
  controllers: [ApiDocsController],
  providers: [
    { provide: API_CATALOG_OPTIONS, useValue: DEFAULT_API_CATALOG_OPTIONS },
    ServiceDocsClient,
    ApiCatalog,
  ],
  exports: [ApiCatalog],
})
export class OpenApiModule {}
