import type { Request } from 'express';

/** The matched route's path as declared (Nest registers full paths on the app, so no base URL), or `null`. */
export function routeTemplateOf(req: Request): string | null {
  const route: unknown = req.route;
  if (typeof route === 'object' && route !== null && 'path' in route) {
    const { path } = route;
    if (typeof path === 'string') return path;
  }
  return null;
}
