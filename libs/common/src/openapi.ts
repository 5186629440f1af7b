import { ErrorBody } from '@app/contracts';
import { applyDecorators, INestApplication, Type } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiOkResponse,
  ApiParam,
  ApiResponse,
  DocumentBuilder,
  getSchemaPath,
  OpenAPIObject,
  SwaggerModule,
} from '@nestjs/swagger';
import { STATUS_CODES } from 'node:http';

/** Where every app serves its own OpenAPI document. */
export const OPENAPI_JSON_PATH = '/docs-json';

export interface OpenApiInfo {
  title: string;
  description?: string;
  version?: string;
  /** Modules whose controllers are documented; all of the app's when not given. */
  include?: Type<unknown>[];
}

/**
 * Builds the app's OpenAPI document once and serves it at `GET /docs-json`. Call it before the
 * app listens (e.g. from `bootstrapApp`'s `configure`); returns the document it serves.
 */
export function setupOpenApi(app: INestApplication, info: OpenApiInfo): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(info.title)
    .setDescription(info.description ?? '')
    .setVersion(info.version ?? '1.0.0')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    include: info.include,
    extraModels: [ErrorBody],
  });
  // Only the JSON: the one Swagger UI is the gateway's, over every app's document.
  SwaggerModule.setup('docs', app, document, {
    ui: false,
    raw: ['json'],
    jsonDocumentUrl: OPENAPI_JSON_PATH,
  });
  return document;
}

/** Documents the `:id` path parameter as `IdParamPipe` accepts it: a positive integer. */
export function ApiIdParam(): MethodDecorator & ClassDecorator {
  return ApiParam({ name: 'id', schema: { type: 'integer', minimum: 1 } });
}

/** Documents error answers of an operation, each with the shared `ErrorBody`. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: STATUS_CODES[status], type: ErrorBody }),
    ),
  );
}

/** Documents a 200 answer of `Page<T>`: `{ items: T[], total, limit, offset }`. */
export function ApiPageResponse(item: Type<unknown>): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(item),
    ApiOkResponse({
      schema: {
        type: 'object',
        required: ['items', 'total', 'limit', 'offset'],
        properties: {
          items: { type: 'array', items: { $ref: getSchemaPath(item) } },
          total: { type: 'integer', description: 'Items in the whole collection' },
          limit: { type: 'integer' },
          offset: { type: 'integer' },
        },
      },
    }),
  );
}
