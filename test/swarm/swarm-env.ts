import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What `npm run swarm:up` wrote (scripts/swarm/docker.mjs): the engine, the tag, the secrets. */
export const STATE_DIR = process.env.SWARM_STATE_DIR || join(tmpdir(), 'api-swarm');
export const STACK = process.env.SWARM_STACK || 'api';
export const GATEWAY = 'http://127.0.0.1:8080';

export interface SwarmState {
  dockerHost: string;
  tag: string;
  adminEmail: string;
  noIpvs: boolean;
  postgres?: boolean;
}

export function swarmState(): SwarmState | undefined {
  const file = join(STATE_DIR, 'state.json');
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as Partial<SwarmState>;
  return state.dockerHost && state.tag ? (state as SwarmState) : undefined;
}

export function secret(name: string): string {
  return readFileSync(join(STATE_DIR, 'secrets', name), 'utf8');
}

/** The docker CLI on the swarm's engine; rejects with stderr. */
export async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  const state = swarmState();
  if (!state) throw new Error('no swarm: run "npm run swarm:up" first');
  const { stdout } = await run('docker', args, {
    env: { ...process.env, DOCKER_HOST: state.dockerHost },
    timeout: timeoutMs,
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout.trim();
}

export function dockerSync(args: string[]): string {
  const state = swarmState();
  const result = spawnSync('docker', args, {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: state?.dockerHost },
  });
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

export interface Task {
  id: string;
  container: string;
  address: string;
  image: string;
}

/** The running tasks of a stack service, each with its container and overlay address. */
export async function tasksOf(service: string): Promise<Task[]> {
  const ids = (
    await docker([
      'service',
      'ps',
      '-q',
      '--filter',
      'desired-state=running',
      `${STACK}_${service}`,
    ])
  )
    .split('\n')
    .filter(Boolean);
  const tasks: Task[] = [];
  for (const id of ids) {
    const raw = JSON.parse(await docker(['inspect', id])) as Array<{
      Status: { State: string; ContainerStatus?: { ContainerID?: string } };
      Spec: { ContainerSpec: { Image: string } };
      NetworksAttachments?: Array<{ Network: { Spec: { Name: string } }; Addresses: string[] }>;
    }>;
    const task = raw[0];
    if (task.Status.State !== 'running') continue;
    const attachment = task.NetworksAttachments?.find(
      (n) => n.Network.Spec.Name === `${STACK}_backend`,
    );
    tasks.push({
      id,
      container: task.Status.ContainerStatus?.ContainerID ?? '',
      address: (attachment?.Addresses[0] ?? '').split('/')[0],
      image: task.Spec.ContainerSpec.Image,
    });
  }
  return tasks;
}

/**
 * Runs `script` with node inside a container of the stack (an app container: the only place that
 * reaches a task's own address) and returns what it printed.
 */
export async function nodeIn(container: string, script: string): Promise<string> {
  return docker(['exec', container, 'node', '-e', script], 30_000);
}

/** `fetch` from inside a container; resolves with `{ status, body }` of the answer. */
export async function fetchIn(
  container: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<{ status: number; body: unknown; at: number }> {
  const request = JSON.stringify({
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const out = await nodeIn(
    container,
    `fetch(${JSON.stringify(url)}, ${request}).then(async (r) => { const t = await r.text(); ` +
      `let b = t; try { b = JSON.parse(t) } catch {} ` +
      `console.log(JSON.stringify({ status: r.status, body: b, at: Date.now() })) })` +
      `.catch((e) => { console.log(JSON.stringify({ status: 0, body: String(e.cause ?? e), at: Date.now() })) })`,
  );
  return JSON.parse(out) as { status: number; body: unknown; at: number };
}

export interface ServiceState {
  running: number;
  desired: number;
  update: string;
}

export async function serviceState(service: string): Promise<ServiceState> {
  const replicas = await docker([
    'service',
    'ls',
    '--filter',
    `name=${STACK}_${service}`,
    '--format',
    '{{.Name}} {{.Replicas}}',
  ]);
  const line = replicas.split('\n').find((l) => l.startsWith(`${STACK}_${service} `)) ?? '';
  const [running, desired] = (line.split(' ')[1] ?? '0/0').split('/').map(Number);
  const update = await docker([
    'service',
    'inspect',
    '-f',
    '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
    `${STACK}_${service}`,
  ]);
  return { running, desired, update };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
