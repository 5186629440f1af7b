import { Inject, Injectable } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { ConfigGeneration } from '../proxy/config-generation';
import { LiveConfig } from '../proxy/live-config';
import type { ServiceUpstreams } from '../proxy/upstream-registry';
import { CombinedApiDocument, mergeApiDocuments, ServiceApi } from './api-document-merge';
import { ServiceDocsClient } from './service-docs.client';

export interface ApiCatalogOptions {
  /** How long a combined document with every service in it is served before it is rebuilt. */
  readonly ttlMs: number;
  /** The same when a service was missing: shorter, so that its routes come back soon. */
  readonly partialTtlMs: number;
}

export const API_CATALOG_OPTIONS = Symbol('API_CATALOG_OPTIONS');

export const DEFAULT_API_CATALOG_OPTIONS: ApiCatalogOptions = {
  ttlMs: 30_000,
  partialTtlMs: 5_000,
};

const INFO: OpenAPIObject['info'] = {
  title: 'API',
  version: '1.0.0',
  description:
    'Every public route, through the gateway. Sign in with `POST /api/auth/login` and use the ' +
    '`accessToken` as a bearer token (Authorize). Besides the answers listed, any route may ' +
    'answer 400 for a malformed path, and a proxied route 502, 503 or 504 when its service ' +
    'fails, with the same error body.',
};

interface Built {
  /** The config generation it was built from: a reload rebuilds it. */
  readonly generation: ConfigGeneration;
  readonly document: CombinedApiDocument;
  readonly json: string;
  readonly expiresAt: number;
}

/**
 * The combined OpenAPI document of the gateway and its services, rebuilt at most once per TTL
 * (concurrent readers share one build). A service that cannot be read only leaves its routes out.
 */
@Injectable()
export class ApiCatalog {
  private gatewayDocument: OpenAPIObject | null = null;
  private built?: Built;
  private building?: Promise<Built>;

  constructor(
    private readonly live: LiveConfig,
    private readonly client: ServiceDocsClient,
    @Inject(API_CATALOG_OPTIONS) private readonly options: ApiCatalogOptions,
  ) {}

  /** The gateway's own document (see `setupGatewayOpenApi`), merged first. */
  useGatewayDocument(document: OpenAPIObject): void {
    this.gatewayDocument = document;
    this.built = undefined;
  }

  /** The combined document as JSON text. */
  async json(): Promise<string> {
    return (await this.current()).json;
  }

  async document(): Promise<CombinedApiDocument> {
    return (await this.current()).document;
  }

  private current(): Promise<Built> {
    const built = this.built;
    if (built && built.generation === this.live.current && Date.now() < built.expiresAt) {
      return Promise.resolve(built);
    }
    this.building ??= this.build().finally(() => (this.building = undefined));
    return this.building;
  }

  private async build(): Promise<Built> {
    const generation = this.live.current;
    const services = await Promise.all(
      generation.services.map(async (service): Promise<ServiceApi> => {
        const fetched = await this.client.fetch(service);
        return {
          name: service.name,
          basePath: service.config.basePath,
          document: fetched.ok ? fetched.document : null,
          reason: fetched.ok ? undefined : fetched.reason,
        };
      }),
    );
    const document = mergeApiDocuments({
      info: withWebSocketNote(INFO, generation.services),
      gateway: this.gatewayDocument,
      services,
      route: (method, path) => {
        const match = generation.routes.resolve({ ok: true, path, query: '' }, method);
        return match && !match.fenced
          ? { service: match.service.name, policy: match.policy }
          : undefined;
      },
    });
    const ttl =
      document['x-unavailable'].length === 0 ? this.options.ttlMs : this.options.partialTtlMs;
    this.built = {
      generation,
      document,
      json: JSON.stringify(document),
      expiresAt: Date.now() + ttl,
    };
    return this.built;
  }
}

/** The info, saying under which base paths a WebSocket handshake is tunnelled (none: as it is). */
function withWebSocketNote(
  info: OpenAPIObject['info'],
  services: readonly ServiceUpstreams[],
): OpenAPIObject['info'] {
  const bases = services
    .filter((service) => service.config.websocket)
    .map((service) => `\`${service.config.basePath}\` (${service.name})`);
  if (bases.length === 0) return info;
  return {
    ...info,
    description:
      `${info.description ?? ''} WebSocket upgrades (\`Upgrade: websocket\`, the token in ` +
      '`Authorization` or as a `bearer.<token>` subprotocol) are accepted under ' +
      `${bases.join(', ')}.`,
  };
}
