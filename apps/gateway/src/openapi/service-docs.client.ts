import { OPENAPI_JSON_PATH } from '@app/common';
import { Injectable } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { ServiceUpstreams } from '../proxy/upstream-registry';

/** Far above any of the services' documents; a larger answer is not one of them. */
const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;

export type FetchedDocument =
  | { readonly ok: true; readonly document: OpenAPIObject }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads a service's own OpenAPI document (`GET /docs-json`) from its healthy replicas, one after
 * the other until one answers. Through each target's pool, but outside the proxy path: these
 * requests count neither in the proxy metrics nor toward passive health.
 */
@Injectable()
export class ServiceDocsClient {
  async fetch(service: ServiceUpstreams): Promise<FetchedDocument> {
    const healthy = service.targets.filter((t) => t.health.healthy);
    if (healthy.length === 0) return { ok: false, reason: 'no healthy replica' };
    let reason = '';
    for (const target of healthy) {
      try {
        return { ok: true, document: await this.fetchFrom(target.pool, service) };
      } catch (err) {
        reason = `${target.origin}: ${(err as Error).message}`;
      }
    }
    return { ok: false, reason };
  }

  private async fetchFrom(
    pool: ServiceUpstreams['targets'][number]['pool'],
    service: ServiceUpstreams,
  ): Promise<OpenAPIObject> {
    const res = await pool.request({
      method: 'GET',
      path: OPENAPI_JSON_PATH,
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(service.config.timeouts.perTryMs),
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`answered ${res.statusCode}`);
    }
    if (Number(res.headers['content-length'] ?? 0) > MAX_DOCUMENT_BYTES) {
      res.body.destroy();
      throw new Error('document too large');
    }
    const document: unknown = await res.body.json();
    if (!isOpenApi3(document)) throw new Error('not an OpenAPI 3 document');
    return document;
  }
}

function isOpenApi3(value: unknown): value is OpenAPIObject {
  const doc = value as Partial<OpenAPIObject> | null;
  return (
    typeof doc === 'object' &&
    doc !== null &&
    typeof doc.openapi === 'string' &&
    doc.openapi.startsWith('3.') &&
    typeof doc.paths === 'object' &&
    doc.paths !== null &&
    !Array.isArray(doc.paths)
  );
}
