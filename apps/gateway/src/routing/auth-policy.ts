import { ROLE_NAME } from '@app/contracts';

/** Who may use a route: anyone, any signed-in user, or a user holding one role. */
export type AuthPolicy =
  | { readonly kind: 'public' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'role'; readonly role: string };

export const PUBLIC: AuthPolicy = Object.freeze({ kind: 'public' });
export const AUTHENTICATED: AuthPolicy = Object.freeze({ kind: 'authenticated' });

/** Reads the config spelling `public`, `authenticated` or `role:<name>`; `undefined` for others. */
export function readAuthPolicy(text: string): AuthPolicy | undefined {
  if (text === 'public') return PUBLIC;
  if (text === 'authenticated') return AUTHENTICATED;
  if (text.startsWith('role:')) {
    const role = text.slice('role:'.length);
    if (ROLE_NAME.test(role)) return Object.freeze({ kind: 'role', role });
  }
  return undefined;
}

/** `readAuthPolicy` for policies written in code, where a bad one is a bug. */
export function parseAuthPolicy(text: string): AuthPolicy {
  const policy = readAuthPolicy(text);
  if (policy) return policy;
  throw new Error(`unknown auth policy "${text}": expected public, authenticated or role:<name>`);
}

export function formatAuthPolicy(policy: AuthPolicy): string {
  return policy.kind === 'role' ? `role:${policy.role}` : policy.kind;
}
