import { GATEWAY } from './swarm-env';

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface Call {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One request to the gateway's published port; a network error is status 0 with its reason. */
export async function api(method: string, path: string, call: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...call.headers };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  try {
    const response = await fetch(`${GATEWAY}${path}`, {
      method,
      headers,
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal: AbortSignal.timeout(call.timeoutMs ?? 15_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { status: 0, headers: new Headers(), body: cause?.code ?? String(error) };
  }
}

/**
 * A request the gateway's per-address limits may refuse (every test client shares the edge's
 * address): after a 429 it waits the `Retry-After` the gateway gave, once.
 */
async function withinLimits(method: string, path: string, call: Call): Promise<Answer> {
  const answer = await api(method, path, call);
  if (answer.status !== 429) return answer;
  const wait = Math.min(Number(answer.headers.get('retry-after') ?? 60), 60);
  console.log(`${method} ${path}: 429, waiting ${wait} s as Retry-After says`);
  await new Promise((r) => setTimeout(r, wait * 1000 + 500));
  return api(method, path, call);
}

export async function login(email: string, password: string): Promise<string> {
  const answer = await withinLimits('POST', '/api/auth/login', { body: { email, password } });
  if (answer.status !== 200) {
    throw new Error(`login ${email}: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return (answer.body as { accessToken: string }).accessToken;
}

export interface User {
  id: number;
  email: string;
  password: string;
  token: string;
}

/** Signs a new user up through the gateway and logs them in. */
export async function signUp(label: string): Promise<User> {
  const email = `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@swarm.example.net`;
  const password = `${label}-password-1`;
  const answer = await withinLimits('POST', '/api/users', {
    body: { name: label, email, password },
  });
  if (answer.status !== 201) {
    throw new Error(`sign-up ${email}: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  const { id } = answer.body as { id: number };
  return { id, email, password, token: await login(email, password) };
}

interface Order {
  id: number;
  userId: number;
}

/** Every order of the signed-in user, all pages. */
export async function ordersOf(token: string): Promise<Order[]> {
  const orders: Order[] = [];
  for (let offset = 0; ; offset += 100) {
    const answer = await api('GET', `/api/checkout/orders?limit=100&offset=${offset}`, { token });
    if (answer.status !== 200) {
      throw new Error(`orders: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    const page = answer.body as { items: Order[]; total: number };
    orders.push(...page.items);
    if (orders.length >= page.total || page.items.length === 0) return orders;
  }
}
