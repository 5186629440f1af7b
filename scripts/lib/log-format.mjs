// Turns the apps' JSON log lines into one readable line each, for a person at a terminal.
const LEVEL_COLOURS = { trace: 90, debug: 90, info: 32, warn: 33, error: 31, fatal: 35 };
const SHOWN_ELSEWHERE = new Set(['time', 'level', 'msg', 'service', 'pid', 'hostname', 'context']);

/** Health probes every few seconds would drown a terminal; the log files keep them. */
export function isRoutineProbe(line) {
  return line.includes('"path":"/health/') && /"status":2\d\d/.test(line);
}

/** A formatter for one process's output; `colour` adds ANSI colours. */
export function prettyLine(label, line, { colour }) {
  let record;
  try {
    record = JSON.parse(line);
  } catch {
    return `[${label}] ${line}`;
  }
  if (record === null || typeof record !== 'object') return `[${label}] ${line}`;
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const level = String(record.level ?? 'info');
  const paint = (code, text) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const extras = Object.entries(record)
    .filter(([key]) => !SHOWN_ELSEWHERE.has(key) && key !== 'err' && key !== 'stack')
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const stack = record.err?.stack ?? record.stack;
  return [
    paint(90, time),
    paint(LEVEL_COLOURS[level] ?? 0, level.toUpperCase().padEnd(5)),
    `[${label}]`,
    record.msg ?? '',
    extras && paint(90, extras),
  ]
    .filter(Boolean)
    .join(' ')
    .concat(stack ? `\n${stack}` : '');
}

/** Splits a stream's chunks into whole lines and hands each to `onLine`. */
export function eachLine(stream, onLine) {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) if (line.trim() !== '') onLine(line);
  });
  stream.on('end', () => {
    if (rest.trim() !== '') onLine(rest);
  });
}
