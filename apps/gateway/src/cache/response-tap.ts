import type { OutgoingHttpHeaders } from 'node:http';

/**
 * Sees the upstream response the exchange sends to the client (the response cache uses one to
 * capture a body, or to invalidate after a write). Its methods must not throw.
 */
export interface ResponseTap {
  /** The final status and the client's headers, before they are written; may add headers. */
  responseStarted(status: number, headers: OutgoingHttpHeaders): void;
  responseData(chunk: Buffer): void;
  /**
   * The whole body was written. A promise (which must never reject) holds the end of the response
   * back until it settles; `null` ends it at once.
   */
  responseEnded(): Promise<void> | null;
  /** The response was cut short or abandoned. */
  responseAborted(): void;
}
