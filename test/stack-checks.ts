import { serverConfig } from '@app/common';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './support/app-process';
import {
  App,
  appOf,
  imageEnv,
  loopbackDefaults,
  namedVolumesOf,
  networksOf,
  seconds,
  secretsOf,
  Stack,
  StackService,
} from './stack-file';

/** Replicas the system runs with in Swarm (the design's process table). */
export const EXPECTED_REPLICAS: Record<string, number> = {
  gateway: 2,
  'product-service': 2,
  'user-service': 2,
  'checkout-service': 1,
  redis: 1,
};

/** The only routes an orchestrator probe may use: the apps' terminus health endpoints. */
const HEALTH_ROUTES = ['/health/ready', '/health/live'];

/** Bound the apps put on their shutdown hooks once the server has drained (see bootstrapApp). */
const SHUTDOWN_HOOKS_BOUND_S = 10;

/** What a service's container sees: the image's ENV under the stack's `environment`. */
export function effectiveEnv(service: StackService): Record<string, string> {
  const app = appOf(service);
  return { ...(app ? imageEnv(app) : {}), ...service.environment };
}

/** The port an app listens on in its container (`PORT`). */
export function appPort(service: StackService): number {
  return Number(service.environment?.PORT);
}

/** `{ url, port, path }` of the HTTP probe in an app's healthcheck command. */
export function healthProbe(service: StackService): { port: number; path: string } | undefined {
  const command = (service.healthcheck?.test ?? []).join(' ');
  const match = /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[^'"\s)]*)/.exec(command);
  return match ? { port: Number(match[1]), path: match[2] } : undefined;
}

/** Seconds an app may take to stop after SIGTERM with the given environment, from its own config. */
export function shutdownBoundSeconds(env: Record<string, string>): number {
  const saved = process.env;
  // The certificate files exist only in the container, and the drain does not depend on them.
  process.env = Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.startsWith('TLS_')),
  );
  try {
    const config = serverConfig(0)() as { drainDelayMs?: number; drainTimeoutMs?: number };
    const drainMs = (config.drainDelayMs ?? 0) + (config.drainTimeoutMs ?? 10_000);
    return drainMs / 1000 + SHUTDOWN_HOOKS_BOUND_S;
  } finally {
    process.env = saved;
  }
}

/** Resolves a stack host name (`svc` or `tasks.svc`) to the service it names. */
function serviceOfHost(stack: Stack, host: string): string | undefined {
  const name = host.replace(/^tasks\./, '');
  return stack.services[name] ? name : undefined;
}

function checkUrl(
  stack: Stack,
  where: string,
  raw: string,
  problems: string[],
  expectTasks = false,
): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`${where}: ${raw} is not a URL`);
    return;
  }
  const target = serviceOfHost(stack, url.hostname);
  if (!target) {
    problems.push(`${where}: ${url.hostname} is not a service of the stack`);
    return;
  }
  if (expectTasks && !url.hostname.startsWith('tasks.')) {
    problems.push(`${where}: ${raw} should name tasks.${target} (one address per replica)`);
  }
  const service = stack.services[target];
  const port = url.port === '' ? undefined : Number(url.port);
  const expected =
    url.protocol === 'redis:' || url.protocol === 'rediss:'
      ? redisPort(service)
      : appOf(service)
        ? appPort(service)
        : undefined;
  if (port !== expected) {
    problems.push(`${where}: ${raw} uses port ${port}, but ${target} listens on ${expected}`);
  }
}

function redisPort(service: StackService): number {
  const match = /--port\s+(\d+)/.exec((service.command ?? []).join(' '));
  return match ? Number(match[1]) : 6379;
}

/**
 * Everything that has to agree between the stack, the Dockerfile, the gateway config and the apps'
 * configuration; each problem is one line naming the service and what is off.
 */
export function stackProblems(stack: Stack): string[] {
  const problems: string[] = [];
  const definedSecrets = Object.keys(stack.secrets ?? {});
  const definedVolumes = Object.keys(stack.volumes ?? {});
  const networks = Object.entries(stack.networks ?? {});

  if (networks.length !== 1 || networks[0][1]?.driver !== 'overlay') {
    problems.push(`networks: expected one overlay network, got ${JSON.stringify(stack.networks)}`);
  }
  for (const [name, replicas] of Object.entries(EXPECTED_REPLICAS)) {
    const actual = stack.services[name]?.deploy?.replicas;
    if (actual !== replicas) problems.push(`${name}: replicas ${actual}, expected ${replicas}`);
  }
  for (const name of Object.keys(stack.configs ?? {})) {
    const file = stack.configs?.[name]?.file;
    if (file && !existsSync(join(ROOT, file))) problems.push(`configs.${name}: ${file} is missing`);
  }

  for (const [name, service] of Object.entries(stack.services)) {
    const mounted = secretsOf(service);
    for (const secret of mounted) {
      if (!definedSecrets.includes(secret)) {
        problems.push(`${name}: secret ${secret} is not defined under secrets:`);
      }
    }
    for (const config of service.configs ?? []) {
      if (!stack.configs?.[config.source]) {
        problems.push(`${name}: config ${config.source} is not defined under configs:`);
      }
    }
    const referenced = [
      ...Object.values(service.environment ?? {}),
      ...(service.command ?? []),
      ...(service.healthcheck?.test ?? []),
    ].flatMap((text) => [...text.matchAll(/\/run\/secrets\/([\w.-]+)/g)].map((m) => m[1]));
    for (const secret of new Set(referenced)) {
      if (!mounted.includes(secret)) {
        problems.push(`${name}: reads /run/secrets/${secret} but does not mount secret ${secret}`);
      }
    }
    for (const secret of mounted) {
      if (!referenced.includes(secret)) {
        problems.push(`${name}: mounts secret ${secret} but nothing reads /run/secrets/${secret}`);
      }
    }
    for (const [variable, value] of Object.entries(service.environment ?? {})) {
      if (variable.endsWith('_FILE') && !value.startsWith('/run/secrets/')) {
        problems.push(`${name}: ${variable} should point into /run/secrets, got ${value}`);
      }
    }
    for (const volume of namedVolumesOf(service)) {
      if (!definedVolumes.includes(volume.source)) {
        problems.push(`${name}: volume ${volume.source} is not defined under volumes:`);
      }
    }
    const attached = networksOf(service);
    if (networks.length === 1 && !attached.includes(networks[0][0])) {
      problems.push(`${name}: not on the ${networks[0][0]} network`);
    }
    if (!service.healthcheck?.test?.length) problems.push(`${name}: no healthcheck`);
    if (!service.deploy?.restart_policy) problems.push(`${name}: no restart_policy`);
    if (!service.deploy?.update_config) problems.push(`${name}: no update_config`);
    if (!service.deploy?.rollback_config) problems.push(`${name}: no rollback_config`);
    const app = appOf(service);
    if (app) appProblems(stack, name, service, app, problems);
    else if (service.ports?.length) problems.push(`${name}: a backend publishes ports`);
    if (namedVolumesOf(service).length > 0 && (service.deploy?.replicas ?? 1) > 0) {
      const constraints = service.deploy?.placement?.constraints ?? [];
      const pinned = constraints.some((c) => /^node\.labels\.[\w.-]+\s*==\s*\S+/.test(c));
      const external = /DATABASE_URL/.test(Object.keys(service.environment ?? {}).join(' '));
      if (!pinned && !external) {
        problems.push(`${name}: keeps data on a local volume but is not pinned to a labelled node`);
      }
    }
  }
  return problems;
}

function appProblems(
  stack: Stack,
  name: string,
  service: StackService,
  app: App,
  problems: string[],
): void {
  const env = effectiveEnv(service);
  const port = appPort(service);
  if (!Number.isInteger(port) || port <= 0) problems.push(`${name}: PORT is not set`);
  if (env.NODE_ENV !== 'production') problems.push(`${name}: NODE_ENV is ${env.NODE_ENV}`);

  for (const variable of loopbackDefaults(app)) {
    if (env[variable] === undefined) {
      problems.push(`${name}: ${variable} is not set and defaults to a loopback address`);
    } else if (/127\.0\.0\.1|localhost/.test(env[variable]) && variable !== 'HOST') {
      problems.push(`${name}: ${variable} points at a loopback address: ${env[variable]}`);
    }
  }
  if (env.HOST !== '0.0.0.0') problems.push(`${name}: HOST is ${env.HOST}, not 0.0.0.0`);

  const probe = healthProbe(service);
  if (!probe) {
    problems.push(`${name}: healthcheck has no http://127.0.0.1:<port>/... probe`);
  } else {
    if (probe.port !== port) {
      problems.push(`${name}: healthcheck probes port ${probe.port}, but PORT is ${port}`);
    }
    if (!HEALTH_ROUTES.includes(probe.path)) {
      problems.push(
        `${name}: healthcheck probes ${probe.path}, not one of ${HEALTH_ROUTES.join(', ')}`,
      );
    }
  }

  if (app === 'gateway') {
    const published = service.ports ?? [];
    // The TLS listener (docker-stack.tls.yml) adds 8443 to its TLS_PORT.
    const expected = [{ target: port, published: 8080 }];
    if (env.TLS_CERT_FILE) expected.push({ target: Number(env.TLS_PORT ?? 8443), published: 8443 });
    const got = published.map((p) => ({ target: p.target, published: p.published }));
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      problems.push(
        `${name}: should publish ${expected.map((e) => `${e.published} to ${e.target}`).join(' and ')}, got ${JSON.stringify(published)}`,
      );
    }
    if ((service.deploy?.replicas ?? 1) > 1 && !env.REDIS_URL) {
      problems.push(`${name}: several replicas need REDIS_URL (a shared token store)`);
    }
    gatewayConfigProblems(stack, name, env.GATEWAY_CONFIG, problems);
  } else if (service.ports?.length) {
    problems.push(`${name}: a backend publishes ports`);
  }

  for (const [variable, value] of Object.entries(service.environment ?? {})) {
    if (/_URLS?$/.test(variable) && !variable.endsWith('_FILE')) {
      for (const url of value.split(',').filter(Boolean)) {
        checkUrl(stack, `${name}: ${variable}`, url.trim(), problems);
      }
    }
  }

  const update = service.deploy?.update_config ?? {};
  const health = service.healthcheck ?? {};
  const watch = seconds(health.start_period) + seconds(health.interval) * (health.retries ?? 3);
  if (update.order !== 'start-first') problems.push(`${name}: update order ${update.order}`);
  if (update.failure_action !== 'rollback') {
    problems.push(`${name}: update failure_action ${update.failure_action}`);
  }
  if (!(seconds(update.monitor) >= watch)) {
    problems.push(
      `${name}: update monitor ${update.monitor} is shorter than ${watch}s of healthchecks`,
    );
  }
  const bound = shutdownBoundSeconds(env);
  if (!(seconds(service.stop_grace_period) > bound)) {
    problems.push(
      `${name}: stop_grace_period ${service.stop_grace_period} is not above the ${bound}s the app may take to stop`,
    );
  }
}

function gatewayConfigProblems(
  stack: Stack,
  name: string,
  configFile: string | undefined,
  problems: string[],
): void {
  // The image copies config/ to /app/config and runs in /app, like the repository root here.
  if (!configFile || !existsSync(join(ROOT, configFile))) {
    problems.push(`${name}: GATEWAY_CONFIG ${configFile} is not a file of the image`);
    return;
  }
  const config = parse(readFileSync(join(ROOT, configFile), 'utf8')) as {
    services?: Array<{ name: string; targets: string[] }>;
  };
  const routed = new Set<string>();
  for (const route of config.services ?? []) {
    for (const target of route.targets) {
      checkUrl(stack, `${name}: ${configFile} ${route.name}`, target, problems, true);
      const service = serviceOfHost(stack, new URL(target).hostname);
      if (service) routed.add(service);
    }
  }
  for (const [other, service] of Object.entries(stack.services)) {
    if (appOf(service) && appOf(service) !== 'gateway' && !routed.has(other)) {
      problems.push(`${name}: ${configFile} routes nothing to ${other}`);
    }
  }
}
