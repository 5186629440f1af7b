import { traceExportConfig } from './trace-export';

describe('traceExportConfig', () => {
  it('should be off without an endpoint, with an empty one, or with the SDK disabled', () => {
    expect(traceExportConfig('gateway', {})).toBeNull();
    expect(traceExportConfig('gateway', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBeNull();
    expect(
      traceExportConfig('gateway', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_SDK_DISABLED: 'true',
      }),
    ).toBeNull();
  });

  it('should send to <endpoint>/v1/traces under the app name or OTEL_SERVICE_NAME', () => {
    expect(
      traceExportConfig('gateway', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }),
    ).toEqual({ serviceName: 'gateway', url: 'http://collector:4318/v1/traces' });
    expect(
      traceExportConfig('gateway', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com/base/',
        OTEL_SERVICE_NAME: 'edge',
      }),
    ).toEqual({ serviceName: 'edge', url: 'https://otel.example.com/base/v1/traces' });
  });

  it.each(['collector:4318', 'ftp://collector', 'http://collector:4318/?x=1', 'not a url'])(
    'should refuse OTEL_EXPORTER_OTLP_ENDPOINT=%p with a message naming it',
    (value) => {
      expect(() => traceExportConfig('gateway', { OTEL_EXPORTER_OTLP_ENDPOINT: value })).toThrow(
        /Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT=.*must be an http\(s\) base URL/,
      );
    },
  );
});
