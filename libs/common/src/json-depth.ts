import { BadRequestException, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** The services' bodies are a few levels deep; 32 leaves room without risking the stack. */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether `value` nests objects or arrays deeper than `max` levels. Walks with an explicit stack,
 * so the check itself cannot overflow on the input it exists to refuse.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 0 }];
  while (pending.length > 0) {
    const { node, depth } = pending.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(node)) pending.push({ node: child, depth: depth + 1 });
  }
  return false;
}

/**
 * Refuses a parsed body nested deeper than `MAX_JSON_DEPTH` with 400, before validation:
 * class-transformer and class-validator recurse per level and overflow the stack a few thousand
 * levels down (a 10 KB body), which answered 500 on every JSON route.
 */
@Injectable()
export class JsonDepthMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    if (nestsDeeperThan(req.body, MAX_JSON_DEPTH)) {
      throw new BadRequestException(`body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    next();
  }
}
