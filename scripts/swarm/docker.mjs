// The Docker engine the swarm scripts talk to, and where they keep what they make.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Everything swarm:up makes on this machine (engine data, secrets, the deployed file). */
export const STATE_DIR = process.env.SWARM_STATE_DIR || join(tmpdir(), 'api-swarm');
export const STATE_FILE = join(STATE_DIR, 'state.json');
export const SECRETS_DIR = join(STATE_DIR, 'secrets');
export const STACK_NAME = process.env.SWARM_STACK || 'api';
export const GATEWAY_URL = 'http://127.0.0.1:8080';
const OWN_ENGINE_DIR = join(STATE_DIR, 'engine');
const OWN_SOCKET = join(OWN_ENGINE_DIR, 'docker.sock');

export function progress(message) {
  const time = new Date().toISOString().slice(11, 19);
  console.log(`${time} swarm: ${message}`);
}

/** Durations of this run's phases, in the order they ended (swarm:up prints them at the end). */
export const phases = [];

/** Runs `fn` as a named phase: a progress line when it starts and one with its duration. */
export async function timed(label, fn) {
  const started = Date.now();
  progress(`${label}...`);
  const result = await fn();
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  phases.push({ label, seconds });
  progress(`${label}: ${seconds} s`);
  return result;
}

export function readState() {
  return existsSync(STATE_FILE) ? JSON.parse(readFileSync(STATE_FILE, 'utf8')) : {};
}

export function writeState(state) {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/** Runs the docker CLI against `host`; returns stdout, throws with stderr on failure. */
export function docker(host, args, options = {}) {
  const result = spawnSync('docker', args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...options,
    env: { ...process.env, ...options.env, DOCKER_HOST: host },
  });
  if (result.error) throw result.error;
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(`docker ${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  }
  return options.allowFailure ? result : result.stdout.trim();
}

/** Like docker(), with its output streamed to ours (long builds). */
export function dockerStreamed(host, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
      env: { ...process.env, ...options.env, DOCKER_HOST: host },
    });
    let tail = '';
    const keep = (chunk) => {
      tail = (tail + chunk.toString()).slice(-8000);
      if (options.onOutput) options.onOutput(chunk.toString());
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`docker ${args.join(' ')} failed:\n${tail}`)),
    );
  });
}

function answers(host) {
  const probe = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: host },
    timeout: 10_000,
  });
  return probe.status === 0;
}

/** The engine of a previous swarm:up, or the one DOCKER_HOST names, or none. */
export function findEngine() {
  const state = readState();
  if (state.dockerHost && answers(state.dockerHost)) return state.dockerHost;
  const given = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  return answers(given) ? given : undefined;
}

/**
 * Starts dockerd with its data, socket and pid file under STATE_DIR; resolves with its host. It
 * runs at nice 10, and so do the builds and containers it starts: the machine stays usable.
 */
export async function startEngine() {
  mkdirSync(OWN_ENGINE_DIR, { recursive: true, mode: 0o700 });
  const { openSync } = await import('node:fs');
  const log = openSync(join(OWN_ENGINE_DIR, 'dockerd.log'), 'a');
  const child = spawn(
    'nice',
    [
      '-n',
      '10',
      'dockerd',
      '--data-root',
      join(OWN_ENGINE_DIR, 'data'),
      '--exec-root',
      join(OWN_ENGINE_DIR, 'exec'),
      '--pidfile',
      join(OWN_ENGINE_DIR, 'docker.pid'),
      '--host',
      `unix://${OWN_SOCKET}`,
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  const host = `unix://${OWN_SOCKET}`;
  const deadline = Date.now() + 60_000;
  while (!answers(host)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`dockerd did not start; see ${join(OWN_ENGINE_DIR, 'dockerd.log')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { host, pid: child.pid };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
