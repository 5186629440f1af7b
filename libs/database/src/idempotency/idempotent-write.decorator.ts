import { parseIdentity, requestIdOf } from '@app/common';
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { IdempotencyKeyPipe } from './idempotency-key.header';

/** What a write handler needs to make itself idempotent: the key (if sent), whose key, the request id. */
export interface WriteRequest {
  key: string | undefined;
  /** `user:<id>` for a caller the gateway identified, `anonymous` otherwise. */
  scope: string;
  requestId: string;
}

const keyPipe = new IdempotencyKeyPipe();

/** The request's `Idempotency-Key` (400 when malformed) and the scope it belongs to. */
export const IdempotentWrite = createParamDecorator(
  (_: unknown, context: ExecutionContext): WriteRequest => {
    const req = context.switchToHttp().getRequest<Request>();
    const raw = req.headers['idempotency-key'];
    const key = keyPipe.transform(Array.isArray(raw) ? raw.join(', ') : raw);
    const identity = parseIdentity(req.headers);
    return {
      key,
      scope: identity ? `user:${identity.userId}` : 'anonymous',
      requestId: req.requestId ?? requestIdOf(req),
    };
  },
);
