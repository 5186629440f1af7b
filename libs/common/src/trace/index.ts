export * from './request-scope';
export * from './trace-export';
export * from './trace-ids';
export * from './traceparent';
export * from './tracing';
