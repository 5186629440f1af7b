// The gateway dashboard: signs in, then polls /api/admin/status and redraws the services.
// The access token lives in this page's memory only; every text goes in through textContent.
'use strict';

(() => {
  const POLL_MS = 1500;
  let token = null;
  let timer = null;

  const byId = (id) => document.getElementById(id);

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    for (const child of children) {
      if (child !== null && child !== undefined) {
        node.append(typeof child === 'string' ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  function say(id, message) {
    const node = byId(id);
    node.textContent = message || '';
    node.hidden = !message;
  }

  async function readJson(res) {
    try {
      return await res.json();
    } catch {
      return {};
    }
  }

  function getStatus(accessToken) {
    return fetch('/api/admin/status', {
      headers: { authorization: `Bearer ${accessToken}` },
      cache: 'no-store',
    });
  }

  async function signIn(event) {
    event.preventDefault();
    say('sign-in-error', '');
    const button = byId('sign-in-button');
    button.disabled = true;
    try {
      const login = await fetch('/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: byId('email').value, password: byId('password').value }),
      });
      const body = await readJson(login);
      if (!login.ok) {
        say('sign-in-error', login.status === 401 ? 'Wrong email or password.' : messageOf(body));
        return;
      }
      const res = await getStatus(body.accessToken);
      if (res.status === 403) {
        say(
          'sign-in-error',
          'This account is not an administrator: the dashboard needs the admin role.',
        );
        void signOutToken(body.accessToken);
        return;
      }
      if (!res.ok) {
        say('sign-in-error', messageOf(await readJson(res)));
        return;
      }
      token = body.accessToken;
      byId('password').value = '';
      byId('sign-in-view').hidden = true;
      byId('status-view').hidden = false;
      byId('sign-out').hidden = false;
      render(await res.json());
      schedule();
    } catch {
      say('sign-in-error', 'The gateway cannot be reached.');
    } finally {
      button.disabled = false;
    }
  }

  function messageOf(body) {
    const message = Array.isArray(body.message) ? body.message.join(', ') : body.message;
    return message ? `Refused: ${message}.` : 'The gateway refused the request.';
  }

  function signOutToken(accessToken) {
    return fetch('/api/auth/logout', {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
    }).catch(() => undefined);
  }

  function signOut(message) {
    if (token) void signOutToken(token);
    token = null;
    clearTimeout(timer);
    timer = null;
    byId('status-view').hidden = true;
    byId('sign-out').hidden = true;
    byId('sign-in-view').hidden = false;
    byId('updated').textContent = '';
    say('sign-in-error', message);
  }

  function schedule() {
    timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    if (!token) return;
    try {
      const res = await getStatus(token);
      if (!token) return;
      if (res.status === 401 || res.status === 403) {
        token = null;
        signOut('Your session ended: sign in again.');
        return;
      }
      if (!res.ok) {
        say('status-error', `Status unavailable (${res.status}); retrying.`);
      } else {
        say('status-error', '');
        render(await res.json());
      }
    } catch {
      say('status-error', 'The gateway cannot be reached; retrying.');
    }
    if (token) schedule();
  }

  function ms(value) {
    if (value === null || value === undefined) return '–';
    if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
    return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ms`;
  }

  function percent(rate) {
    return `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)} %`;
  }

  function ago(at, now) {
    const seconds = Math.max(0, (Date.parse(now) - Date.parse(at)) / 1000);
    return `${seconds.toFixed(1)} s ago`;
  }

  function figure(name, label, value) {
    return el(
      'div',
      { class: 'figure' },
      el('dt', {}, label),
      el('dd', { 'data-field': name }, String(value)),
    );
  }

  function targetRow(target, now, weighted) {
    let state = target.state;
    if (target.state === 'ejected')
      state += ` (${(target.cooldownRemainingMs / 1000).toFixed(1)} s)`;
    const check = target.lastCheck
      ? `${target.lastCheck.up ? 'passed' : 'failed'} ${ago(target.lastCheck.at, now)}`
      : 'pending';
    return el(
      'tr',
      { 'data-target': target.origin, 'data-state': target.state },
      el('td', {}, el('code', {}, target.origin)),
      el('td', {}, el('span', { class: `badge ${target.state}`, 'data-field': 'state' }, state)),
      el('td', { class: 'num', 'data-field': 'in-flight' }, String(target.inFlight)),
      ...(weighted
        ? [el('td', { class: 'num', 'data-field': 'weight' }, String(target.weight))]
        : []),
      el('td', { class: 'num' }, String(target.consecutiveFailures)),
      el('td', { class: 'num' }, String(target.ejections)),
      el('td', {}, check),
    );
  }

  function serviceCard(service, now) {
    const { traffic } = service;
    const weighted = service.balancer === 'weighted';
    const level =
      service.healthy === service.total ? 'up' : service.healthy === 0 ? 'down' : 'ejected';
    return el(
      'article',
      { class: 'card service', 'data-service': service.name },
      el(
        'header',
        {},
        el('h2', {}, service.name),
        el('code', {}, service.basePath),
        el('span', { class: 'badge', 'data-field': 'balancer' }, service.balancer),
        el(
          'span',
          { class: `badge ${level}`, 'data-field': 'replicas' },
          `${service.healthy}/${service.total} up`,
        ),
      ),
      el(
        'dl',
        { class: 'figures' },
        figure('rate', 'req/s', traffic.requestsPerSecond.toFixed(2)),
        figure('p99', 'p99', ms(traffic.p99Ms)),
        figure('error-rate', 'errors', percent(traffic.errorRate)),
        figure('requests', 'requests', traffic.requests),
        figure('retries', 'retries', traffic.retries),
        figure('ejections', 'ejections', service.ejections),
        figure('in-flight', 'in flight', service.inFlight),
      ),
      el(
        'table',
        {},
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', {}, 'Replica'),
            el('th', {}, 'State'),
            el('th', { class: 'num' }, 'In flight'),
            ...(weighted ? [el('th', { class: 'num' }, 'Weight')] : []),
            el('th', { class: 'num' }, 'Failures'),
            el('th', { class: 'num' }, 'Ejections'),
            el('th', {}, 'Health check'),
          ),
        ),
        el('tbody', {}, ...service.targets.map((target) => targetRow(target, now, weighted))),
      ),
    );
  }

  function render(status) {
    byId('services').replaceChildren(
      ...status.services.map((service) => serviceCard(service, status.generatedAt)),
    );
    byId('config').textContent = JSON.stringify(status.config, null, 2);
    const seconds = Math.round(status.services[0]?.traffic.windowSeconds ?? 0);
    const version = status.configVersion;
    const failed = status.lastReload?.error
      ? ` · last reload refused: ${status.lastReload.error}`
      : '';
    byId('updated').textContent =
      `updated ${new Date(status.generatedAt).toLocaleTimeString()} · traffic of the last ${seconds} s` +
      ` · config version ${version.number} (${version.digest})${failed}`;
  }

  // Loaded with `defer`: the document is parsed by now.
  byId('sign-in').addEventListener('submit', signIn);
  byId('sign-out').addEventListener('click', () => signOut(''));
})();
