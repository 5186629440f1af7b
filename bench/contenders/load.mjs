// Load generator, in a process of its own so it never shares an event loop with what it measures.
// Started with an IPC channel; each message {url, method, headers, body, connections, seconds}
// (or `amount`, a number of requests, instead of `seconds`) runs autocannon once and is answered
// with the totals.
import autocannon from 'autocannon';

process.on('message', (job) => {
  autocannon(
    {
      url: job.url,
      method: job.method,
      headers: job.headers,
      body: job.body,
      connections: job.connections,
      ...(job.amount === undefined ? { duration: job.seconds } : { amount: job.amount }),
    },
    (err, result) => {
      if (err) {
        process.send({ error: String(err) });
        return;
      }
      process.send({
        requests: result.requests.total,
        seconds: result.duration,
        p99: result.latency.p99,
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
      });
    },
  );
});
process.send('ready');
