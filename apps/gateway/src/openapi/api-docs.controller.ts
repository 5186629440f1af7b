import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { dirname } from 'node:path';
import { ApiCatalog } from './api-catalog';

/** Swagger UI's own files, served from the installed `swagger-ui-dist` (no CDN at run time). */
const SWAGGER_UI_DIR = dirname(
  require.resolve('swagger-ui-dist/package.json', {
    paths: [dirname(require.resolve('@nestjs/swagger'))],
  }),
);

const ASSETS = new Set([
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'swagger-ui-standalone-preset.js',
  'favicon-32x32.png',
  'favicon-16x16.png',
]);

const PAGE = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>API documentation</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32" />
    <link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
`;

// A file rather than an inline script, so that a strict Content-Security-Policy can allow it.
const INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: '/docs/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'StandaloneLayout',
  });
};
`;

/**
 * `/docs`: one Swagger UI over the combined document at `/docs/openapi.json` (the gateway's own
 * endpoints and every routed service's, at their public paths).
 */
@ApiExcludeController()
@Controller('docs')
export class ApiDocsController {
  constructor(private readonly catalog: ApiCatalog) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return PAGE;
  }

  @Get('openapi.json')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  openApi(): Promise<string> {
    return this.catalog.json();
  }

  @Get('swagger-initializer.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  initializer(): string {
    return INITIALIZER;
  }

  @Get(':asset')
  asset(@Param('asset') name: string, @Res() res: Response): void {
    if (!ASSETS.has(name)) throw new NotFoundException(`no such file: ${name}`);
    res.sendFile(name, { root: SWAGGER_UI_DIR, maxAge: '1h' }, (err?: Error) => {
      // Only a broken install or a client gone mid-file gets here; the latter needs no answer.
      if (err && !res.headersSent) res.status(404).end();
    });
  }
}
