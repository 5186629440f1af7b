/**
 * The value of one series in a Prometheus text exposition, given as written there
 * (`name{label="value",...}`, labels in the registry's order); 0 when the series is absent.
 */
export function sampleOf(exposition: string, series: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
