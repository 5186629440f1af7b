import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Path of the nginx binary, or null when nginx is not installed. */
export function nginxBinary(): string | null {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/bin/nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate;
  }
  return null;
}

/**
 * A private nginx instance in `dir` (its own prefix, pid file, logs and temp paths; the system's
 * nginx and its config are not read): one worker, upstream keepalive (closed before the backends
 * close it), unlimited requests per client connection, access log to a file.
 * Returns the argv that starts it in the foreground.
 */
export function nginxInstance(
  binary: string,
  dir: string,
  port: number,
  basePath: string,
  targets: string[],
): string[] {
  mkdirSync(join(dir, 'temp'), { recursive: true });
  const temp = (name: string) => `${name}_temp_path ${join(dir, 'temp', name)};`;
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'worker_processes 1;',
      'daemon off;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 4096; }',
      'http {',
      `  access_log ${join(dir, 'access.log')};`,
      `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
      '  upstream backends {',
      ...targets.map((t) => `    server ${new URL(t).host};`),
      '    keepalive 64;',
      // Below the backends' own 5 s keep-alive (Node's default), so nginx never reuses a connection
      // the backend is closing; undici reads the backend's Keep-Alive hint for the same reason.
      '    keepalive_timeout 4s;',
      '  }',
      // The Node contenders keep a client connection open for any number of requests; nginx's
      // default closes one after 1,000, and a load generator racing that close counts an error.
      '  keepalive_requests 1000000;',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      `    location ${basePath}/ {`,
      '      proxy_pass http://backends/;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  return [binary, '-p', dir, '-c', conf, '-e', join(dir, 'error.log')];
}
