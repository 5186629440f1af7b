// The floor for a Node gateway: node:http in front of one undici Pool per target, round-robin,
// the request body piped up and the response piped straight into the client's response
// (`Pool.stream`). No routing table, logging, metrics or auth.
// Run as plain `node bare-proxy.mjs <port> <prefix> <target>...`.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, prefix, ...targets] = process.argv.slice(2);
const pools = targets.map((t) => new Pool(t));
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);
let next = 0;

function forwardHeaders(raw) {
  const headers = {};
  for (const name in raw) {
    if (!HOP_BY_HOP.has(name)) headers[name] = raw[name];
  }
  return headers;
}

createServer((req, res) => {
  if (!req.url.startsWith(prefix)) {
    res.writeHead(404).end();
    return;
  }
  const pool = pools[next];
  next = (next + 1) % pools.length;
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool.stream(
    {
      path: req.url.slice(prefix.length) || '/',
      method: req.method,
      headers: forwardHeaders(req.headers),
      body: hasBody ? req : null,
    },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, forwardHeaders(headers));
      return res;
    },
    (err) => {
      if (err && !res.headersSent && !res.destroyed) res.writeHead(502).end();
    },
  );
}).listen(Number(port), '127.0.0.1', () => process.send?.('ready'));

// An orderly exit on SIGTERM, so that `--cpu-prof` can write its profile.
process.on('SIGTERM', () => process.exit(0));
