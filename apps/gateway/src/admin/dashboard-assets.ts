import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DashboardAsset {
  readonly body: Buffer;
  readonly type: string;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** The dashboard's static files, read once at start (a build without them fails at once). */
@Injectable()
export class DashboardAssets {
  private readonly assets = new Map<string, DashboardAsset>();

  constructor() {
    const dir = join(__dirname, 'dashboard');
    for (const [name, type] of Object.entries(TYPES)) {
      this.assets.set(name, { body: readFileSync(join(dir, name)), type });
    }
  }

  /** The asset of that exact file name, `undefined` for any other name. */
  get(name: string): DashboardAsset | undefined {
    return this.assets.get(name);
  }
}
