import { Controller, Get, NotFoundException, Param, Res, StreamableFile } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { DashboardAssets } from './dashboard-assets';

/** Only the dashboard's own files: no inline script or style, no other origin, no framing. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** `/dashboard`: the live status page; it signs in and reads `/api/admin/status` from the browser. */
@ApiExcludeController()
@Controller('dashboard')
export class DashboardController {
  constructor(private readonly assets: DashboardAssets) {}

  @Get()
  page(@Res({ passthrough: true }) res: Response): StreamableFile {
    return this.serve('index.html', res);
  }

  @Get(':file')
  file(@Param('file') file: string, @Res({ passthrough: true }) res: Response): StreamableFile {
    return this.serve(file, res);
  }

  private serve(name: string, res: Response): StreamableFile {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException(`Cannot GET /dashboard/${name}`);
    res.set({
      'Content-Security-Policy': DASHBOARD_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    });
    return new StreamableFile(asset.body, { type: asset.type, length: asset.body.length });
  }
}
