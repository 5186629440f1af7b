import type { Response } from 'express';
import type { IdempotentResult } from './idempotency.service';

const IDEMPOTENCY_REPLAYED_HEADER = 'Idempotency-Replayed';

/** Sends an idempotent write's answer: its status, and `Idempotency-Replayed: true` on a replay. */
export function sendIdempotent(res: Response, result: IdempotentResult): unknown {
  res.status(result.response.status);
  if (result.replayed) res.setHeader(IDEMPOTENCY_REPLAYED_HEADER, 'true');
  return result.response.body ?? undefined;
}
