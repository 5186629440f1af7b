import { isRetryableStatus } from '@app/common';
import { DEPENDENCY_UNAVAILABLE_HEADER } from '@app/contracts';
import type { IncomingHttpHeaders } from 'node:http';

/** `application/json`, `application/problem+json` and the like, parameters allowed. */
const JSON_TYPE = /^[^;]*[/+]json\s*(;|$)/i;

/**
 * Whether an upstream's answer counts against the replica in passive health. A 502/503/504 counts
 * only when nothing in it shows that the replica's own code produced it: a replica that says when
 * to come back (`Retry-After`), names the dependency it is waiting for
 * (`X-Dependency-Unavailable`) or answers with a JSON body is alive, and ejecting it would take
 * down what it can still serve. A bare 502/504 (a proxy or sidecar in front of a dead process)
 * counts. Every other status is an answer, not a failure.
 */
export function isReplicaFailure(status: number, headers: IncomingHttpHeaders): boolean {
  if (!isRetryableStatus(status)) return false;
  if (headers['retry-after'] !== undefined) return false;
  if (headers[DEPENDENCY_UNAVAILABLE_HEADER] !== undefined) return false;
  const type = headers['content-type'];
  return typeof type !== 'string' || !JSON_TYPE.test(type);
}
