import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { describeWhen } from '../apps/gateway/test/support/redis-available';
import { ROOT } from './support/app-process';
import { System } from './support/system';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HEALTH_INTERVAL_MS = 1_000;
const HEALTH_TIMEOUT_MS = 500;
/** How often the dashboard asks for the status (dashboard.js). */
const DASHBOARD_POLL_MS = 1_500;
/** The committed screenshot is rewritten only on request; otherwise a copy goes to the temp dir. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? join(ROOT, 'docs', 'dashboard.png')
  : join(tmpdir(), 'gateway-dashboard.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chromiumStatus(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync(CHROMIUM)) {
    return { ok: false, reason: `no Chromium at ${CHROMIUM} (apt-get install -y chromium)` };
  }
  const version = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return version.status === 0
    ? { ok: true }
    : {
        ok: false,
        reason: `${CHROMIUM} --version failed: ${version.stderr || version.error?.message}`,
      };
}

/** The value of one Prometheus sample, 0 when absent. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** The dashboard in headless Chromium over the real system: sign in, watch a replica die. */
describeWhen('system: dashboard in headless Chromium', chromiumStatus(), () => {
  const system = new System({
    gatewayDefaults: {
      activeHealth: { intervalMs: HEALTH_INTERVAL_MS, timeoutMs: HEALTH_TIMEOUT_MS },
    },
  });
  let browser: Browser;

  beforeAll(async () => {
    await system.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await system.stop();
  }, 30_000);

  async function signIn(credentials: { email: string; password: string }): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const response = await page.goto(`${system.gateway.url}/dashboard`);
    expect(response?.status()).toBe(200);
    await page.fill('#email', credentials.email);
    await page.fill('#password', credentials.password);
    await page.click('#sign-in-button');
    return page;
  }

  const card = (page: Page, service: string) => page.locator(`[data-service="${service}"]`);

  it('should tell a signed-in user without the admin role that the dashboard is not for them', async () => {
    const page = await signIn({ email: 'user@example.com', password: 'user-password-123' });
    try {
      const error = page.locator('#sign-in-error');
      await error.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await error.textContent()).toBe(
        'This account is not an administrator: the dashboard needs the admin role.',
      );
      expect(await page.locator('#status-view').isHidden()).toBe(true);
    } finally {
      await page.close();
    }
  });

  it('should sign in as admin, show live traffic and mark a killed replica down within the health interval', async () => {
    const page = await signIn({ email: 'admin@example.com', password: 'admin-password-123' });
    // Script errors and anything the Content-Security-Policy refused would show here.
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) errors.push(message.text());
    });
    try {
      const products = card(page, 'product-service');
      await products.waitFor({ timeout: 10_000 });
      expect(await page.locator('[data-service]').count()).toBe(3);
      expect(await products.locator('[data-field="replicas"]').textContent()).toBe('2/2 up');
      expect(await products.locator('[data-field="balancer"]').textContent()).toBe('round-robin');

      const sent = 20;
      const statuses: number[] = [];
      for (let i = 0; i < sent; i++) {
        const res = await fetch(`${system.gateway.url}/api/products/${(i % 4) + 1}`);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      expect(statuses).toEqual(new Array(sent).fill(200));
      // The dashboard's count catches up within a poll or two: exactly the requests sent, no more.
      await products
        .locator('[data-field="requests"]', { hasText: new RegExp(`^${sent}$`) })
        .waitFor({ timeout: 10_000 });
      expect(await products.locator('[data-field="p99"]').textContent()).toMatch(/^[\d.]+ m?s$/);
      expect(await products.locator('[data-field="error-rate"]').textContent()).toBe('0 %');
      expect(
        await card(page, 'user-service').locator('[data-field="requests"]').textContent(),
      ).toBe('0');

      // Killed under traffic: requests caught on the dead replica are retried on the other one.
      const victim = system.products[1];
      const survivor = system.products[0];
      const killedAt = Date.now();
      await victim.stop('SIGKILL');
      const during = 10;
      for (let i = 0; i < during; i++) {
        const res = await fetch(`${system.gateway.url}/api/products/${(i % 4) + 1}`);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      expect(statuses).toEqual(new Array(sent + during).fill(200));

      const bound = HEALTH_INTERVAL_MS + HEALTH_TIMEOUT_MS + DASHBOARD_POLL_MS + 4_000;
      await products
        .locator(`tr[data-target="${victim.url}"][data-state="down"]`)
        .waitFor({ timeout: bound });
      const seenAfterMs = Date.now() - killedAt;
      expect(seenAfterMs).toBeLessThan(bound);
      expect(await products.locator('[data-field="replicas"]').textContent()).toBe('1/2 up');
      expect(
        await products.locator(`tr[data-target="${survivor.url}"]`).getAttribute('data-state'),
      ).toBe('up');

      // The dashboard shows the gateway's own counts: every request, and as many retries as /metrics.
      const metrics = await (await fetch(`${system.gateway.url}/metrics`)).text();
      const retries = sample(metrics, 'gateway_upstream_retries_total{service="product-service"}');
      await products
        .locator('[data-field="requests"]', { hasText: new RegExp(`^${sent + during}$`) })
        .waitFor({ timeout: 10_000 });
      await products
        .locator('[data-field="retries"]', { hasText: new RegExp(`^${retries}$`) })
        .waitFor({ timeout: 10_000 });

      const shot = await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);
      const written = readFileSync(SCREENSHOT);
      expect(written.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      expect(written.length).toBe(shot.length);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
