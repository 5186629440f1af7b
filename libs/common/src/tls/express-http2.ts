import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** The part of an Express application the bridge touches: its request handler and prototypes. */
export interface ExpressApp {
  (req: IncomingMessage, res: ServerResponse): void;
  request: object;
  response: object;
}

/**
 * Express 5 sets the prototype of every request and response to its own objects, which inherit
 * from `http.IncomingMessage` and `http.ServerResponse`. An HTTP/2 compatibility request then
 * loses the getters and stream state of `Http2ServerRequest` and the first read throws. This
 * handler gives an HTTP/2 request and response Express's methods over their own prototypes
 * instead, for the one synchronous call in which Express sets them; HTTP/1 requests take the
 * application as they are.
 */
export function expressWithHttp2(
  app: ExpressApp,
): (req: IncomingMessage, res: ServerResponse) => void {
  const plainRequest = app.request;
  const plainResponse = app.response;
  const http2Request = rebase(plainRequest, Http2ServerRequest.prototype);
  const http2Response = rebase(plainResponse, Http2ServerResponse.prototype);
  return (req, res) => {
    if (!(req instanceof Http2ServerRequest)) {
      app(req, res);
      return;
    }
    app.request = http2Request;
    app.response = http2Response;
    try {
      app(req, res);
    } finally {
      app.request = plainRequest;
      app.response = plainResponse;
    }
  };
}

/**
 * A copy of Express's two-level prototype (the application's object over Express's methods) whose
 * bottom is `base` instead of Node's HTTP/1 class.
 */
function rebase(appLevel: object, base: object): object {
  const expressLevel = Object.getPrototypeOf(appLevel) as object;
  const methods = Object.create(base, Object.getOwnPropertyDescriptors(expressLevel)) as object;
  return Object.create(methods, Object.getOwnPropertyDescriptors(appLevel)) as object;
}
