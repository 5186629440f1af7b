/**
 * RFC 9112 3.2: a request with more than one Host header must get 400. Node keeps the first and
 * drops the others, so a cache or filter in front may have acted on a different one.
 */
export class HostHeaderCheck {
  /** Why the request is refused, or `null`. */
  refusal(rawHeaders: readonly string[]): string | null {
    let seen = false;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i];
      if (name.length === 4 && name.toLowerCase() === 'host') {
        if (seen) return 'more than one Host header';
        seen = true;
      }
    }
    return null;
  }
}
