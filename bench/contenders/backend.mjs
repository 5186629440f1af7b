// Backend replica for the gateway bench, run as plain `node backend.mjs <port>`.
// GET answers a product record of a few hundred bytes; POST reads and parses the JSON body and
// answers the created record, as an ordinary JSON API would.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const product = JSON.stringify({
  id: 1042,
  sku: 'WDG-1042-BLU',
  name: 'Widget, blue, 40 mm',
  description: 'Anodised aluminium widget with a stainless steel spindle; fits every M8 bracket.',
  price: { amount: '19.90', currency: 'EUR' },
  stock: { available: 137, reserved: 4, warehouse: 'FRA-2' },
  tags: ['hardware', 'widgets', 'blue'],
  rating: { average: 4.6, count: 211 },
  updatedAt: '2026-11-30T09:41:07.000Z',
});

createServer((req, res) => {
  if (req.url === '/health/ready') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.method === 'POST') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const order = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const body = JSON.stringify({
        id: 'ord_7Yk2mQ9',
        status: 'accepted',
        lines: order.lines?.length ?? 0,
        received: Buffer.byteLength(JSON.stringify(order)),
        createdAt: '2026-12-02T17:00:00.000Z',
      });
      res.writeHead(201, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(product),
  });
  res.end(product);
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
