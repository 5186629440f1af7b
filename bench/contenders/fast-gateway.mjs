// fast-gateway 5.0.1 as its users run it: plain `node fast-gateway.mjs <port> <prefix> <target>...`,
// round-robin over the targets through its documented `proxyHandler` (setting `proxyOpts.base`).
import gateway from 'fast-gateway';

const [port, prefix, ...targets] = process.argv.slice(2);
let next = 0;

gateway({
  routes: [
    {
      prefix,
      target: targets[0],
      proxyHandler: (req, res, url, proxy, proxyOpts) => {
        proxyOpts.base = targets[next];
        next = (next + 1) % targets.length;
        return proxy(req, res, url, proxyOpts);
      },
    },
  ],
})
  .start(Number(port), '127.0.0.1')
  .then(() => process.send?.('ready'));
