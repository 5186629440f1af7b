import { ConfigurationError } from '../env-validation';

/** Where spans go when the export is on, and under which service name. */
export interface TraceExportConfig {
  /** `resource.service.name`: `OTEL_SERVICE_NAME`, else the app's own name. */
  readonly serviceName: string;
  /** The OTLP/HTTP traces URL: `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`. */
  readonly url: string;
}

/**
 * The OpenTelemetry export settings from the standard variables, or `null` (off) when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is unset or empty, or `OTEL_SDK_DISABLED=true`.
 * @throws ConfigurationError for an endpoint that is not an http(s) URL.
 */
export function traceExportConfig(
  appName: string,
  env: NodeJS.ProcessEnv = process.env,
): TraceExportConfig | null {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  let base: URL;
  try {
    base = new URL(endpoint);
  } catch {
    base = new URL('invalid:');
  }
  if ((base.protocol !== 'http:' && base.protocol !== 'https:') || base.search || base.hash) {
    throw new ConfigurationError(
      `OTEL_EXPORTER_OTLP_ENDPOINT=${JSON.stringify(endpoint)}: must be an http(s) base URL such as http://otel-collector:4318`,
    );
  }
  const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}/v1/traces`;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || appName;
  return { serviceName, url };
}
