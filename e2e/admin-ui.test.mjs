// End-to-end tests of the admin UI (/admin/) in headless Chromium, against
// a `tessera serve --demo` started by scripts/e2e. The steps run in order
// and share one browser: a global admin signs in, registers one client of
// each authentication method, rotates a secret, manages trust anchors,
// keys and settings, checks the audit log; then tenant scoping, CSRF and
// sign-out are checked. The routes and selectors come from the UI contract.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as apiRequest } from 'playwright-core';
import {
  basicAuth,
  caCert,
  clickAndWait,
  clientAssertion,
  config,
  eventually,
  h1Of,
  issuedCert,
  launchBrowser,
  newEcKey,
  newSession,
  normalizeThumbprint,
  pathOf,
  screenshot,
  selfSignedCert,
  submitting,
  text,
  tpath,
  url,
  x5tS256,
} from './lib.mjs';

const T = config.tenant;
const ADMIN_ACTOR = `user:${config.admin.user}`;
const INVALID_LOGIN = 'Invalid username or password.';
const STEP = { timeout: 60_000 };

const METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  'tls_client_auth',
  'self_signed_tls_client_auth',
];
const IDS = {
  client_secret_basic: 'e2e-basic',
  client_secret_post: 'e2e-post',
  client_secret_jwt: 'e2e-hmac-jwt',
  private_key_jwt: 'e2e-private-key-jwt',
  tls_client_auth: 'e2e-tls',
  self_signed_tls_client_auth: 'e2e-self-signed',
};
const PKJWT_KID = 'e2e-key-1';
const PARTNER_DN = 'CN=partner-1,O=Example';

const problems = [];
const state = { secrets: {}, created: new Set() };
let browser;
let admin; // { context, page } of the global admin
let work; // a temporary directory for keys and certificates

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  state.ecKey = newEcKey(PKJWT_KID);
  state.selfSigned = selfSignedCert(work);
  state.ca = caCert(work, 'Tessera E2E Test CA', 20);
  browser = await launchBrowser();
  admin = await newSession(browser, problems);
  process.stdout.write(`# screenshots: ${config.screenshots}\n`);
});

after(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Skips the rest of a step whose prerequisite failed earlier. */
function needs(t, ok, what) {
  if (!ok) t.skip(`needs ${what} (an earlier step failed)`);
  return !ok;
}

async function signIn(page, { user, password }) {
  await page.goto(url('/admin/login'));
  await page.locator('#login-form input[name=username]').fill(user);
  await page.locator('#login-form input[name=password]').fill(password);
  return clickAndWait(page, page.locator('#login-form button[type=submit]'));
}

async function activeName(page) {
  return page.evaluate(() => document.activeElement?.getAttribute('name') ?? null);
}

// --- the token endpoint ----------------------------------------------------

const tokenUrl = (base = config.base) => `${base}/t/${T}/oauth2/token`;
const issuer = `${config.base}/t/${T}`;

async function tokenRequest(request, form, headers = {}, base = config.base) {
  const r = await request.post(tokenUrl(base), {
    form: { grant_type: 'client_credentials', ...form },
    headers,
    failOnStatusCode: false,
    maxRedirects: 0,
  });
  const raw = await r.text();
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    body = raw;
  }
  return { status: r.status(), body };
}

/**
 * Expects the token request to reach `status` (200 with an access token, or
 * 401 invalid_client) within 3 s: servers notice changes within a second.
 */
async function expectToken(what, send, status) {
  return eventually(
    async () => {
      const r = await send();
      assert.equal(r.status, status, `${what}: token endpoint answered ${r.status} ${JSON.stringify(r.body)}`);
      if (status === 200) assert.equal(typeof r.body.access_token, 'string', `${what}: no access_token`);
      if (status === 401) assert.equal(r.body.error, 'invalid_client', `${what}: ${JSON.stringify(r.body)}`);
      return r;
    },
    3_000,
  );
}

const basicToken = (id, secret) => () => tokenRequest(admin.context.request, {}, { Authorization: basicAuth(id, secret) });

// --- client creation ---------------------------------------------------------

async function openNewClient(page, method) {
  const r = await page.goto(url(tpath(`/clients/new?method=${method}`)));
  assert.equal(r.status(), 200, `GET new client form (${method})`);
  assert.equal(await page.locator('#client-form input[name=token_endpoint_auth_method]').inputValue(), method);
}

async function fillCommon(page, method, extra = {}) {
  const form = page.locator('#client-form');
  await form.locator('input[name=client_id]').fill(IDS[method]);
  await form.locator('input[name=client_name]').fill(extra.name ?? `E2E ${method}`);
  await form.locator('input[name=scope]').fill(extra.scope ?? 'orders.read');
}

async function pressCheck(page) {
  const r = await clickAndWait(page, page.locator('#client-form button[name=action][value=check]'));
  assert.ok(r.status() < 400, `Check answered ${r.status()}: ${await fieldErrors(page)}`);
  return r;
}

async function fieldErrors(page) {
  const errs = await page.locator('.field-error, .flash-error').allInnerTexts();
  return errs.length ? errs.join(' | ') : '(no error shown)';
}

/** Presses "Create client"; returns the page's response (a 303 for non-secret methods). */
async function pressCreate(page) {
  return clickAndWait(page, page.locator('#client-form button[name=action][value=create]'));
}

/** The secret page after creating or rotating: returns the secret shown. */
async function readSecretPage(page, clientId) {
  assert.equal(await text(page.locator('#client-id')), clientId);
  const secret = await text(page.locator('code#client-secret'));
  assert.match(secret, /^\S{20,}$/, 'the secret looks like a secret');
  await page.locator('button#copy-secret').waitFor();
  const box = await page.locator('code#client-secret').evaluate((e) => [e.scrollWidth, e.clientWidth]);
  assert.ok(box[0] <= box[1], `the whole secret is visible (scrollWidth ${box[0]} > clientWidth ${box[1]})`);
  assert.match(await text(page.locator('.warning')), /shown only once/);
  return secret;
}

async function createSecretClient(page, method) {
  await fillCommon(page, method);
  const r = await pressCreate(page);
  // POST, redirect, GET: the secret page has its own URL, so a reload never re-posts.
  assert.equal(r.status(), 303, `create ${method} answered ${r.status()}: ${await fieldErrors(page)}`);
  assert.equal(new URL(page.url()).pathname, tpath(`/clients/${IDS[method]}/secret`));
  const secret = await readSecretPage(page, IDS[method]);
  state.secrets[method] = secret;
  state.created.add(method);
  return { secret, response: r };
}

/** After creating a non-secret client: the 303 lands on the client's page. */
async function expectClientPage(page, method, response) {
  assert.equal(response.status(), 303, `create ${method} answers 303 (got ${response.status()}): ${await fieldErrors(page)}`);
  assert.equal(new URL(page.url()).pathname, tpath(`/clients/${IDS[method]}`));
  assert.equal(await text(page.locator('#client-id')), IDS[method]);
  assert.equal(await text(page.locator('#client-method')), method);
  assert.equal(await text(page.locator('#client-status')), 'enabled');
  state.created.add(method);
}

// --- the steps ---------------------------------------------------------------

test('not signed in: /admin/ pages redirect (303) to the sign-in page', STEP, async () => {
  const { page, context } = admin;
  for (const path of ['/admin/', '/admin/tenants', tpath('/clients')]) {
    const r = await context.request.get(url(path), { maxRedirects: 0, failOnStatusCode: false });
    assert.equal(r.status(), 303, `GET ${path}`);
    assert.equal(new URL(r.headers().location, config.base).pathname, '/admin/login', `GET ${path} redirects to`);
  }
  await page.goto(url('/admin/tenants'));
  assert.equal(pathOf(page), '/admin/login');
  await page.locator('#login-form input[name=username]').waitFor();
  await page.locator('#login-form input[name=password][type=password]').waitFor();
  await screenshot(page, 'login');
});

test('sign-in: a wrong password and an unknown user get the same generic error', STEP, async () => {
  const { page } = admin;
  const wrong = await signIn(page, { user: config.admin.user, password: 'not-the-password-at-all' });
  assert.ok(wrong.status() >= 400 && wrong.status() < 500, `wrong password answered ${wrong.status()}`);
  assert.equal(pathOf(page), '/admin/login');
  const wrongText = await text(page.locator('.flash-error'));
  assert.equal(wrongText, INVALID_LOGIN);
  assert.equal(await page.locator('#login-form input[name=password]').inputValue(), '', 'password not echoed');

  const unknown = await signIn(page, { user: 'nobody-here', password: 'not-the-password-at-all' });
  assert.equal(unknown.status(), wrong.status(), 'same status for an unknown user');
  assert.equal(await text(page.locator('.flash-error')), wrongText, 'same message for an unknown user');
  // Still signed out.
  await page.goto(url('/admin/tenants'));
  assert.equal(pathOf(page), '/admin/login');
});

test('sign-in with the keyboard only (Tab, typing, Enter) lands on the tenant list', STEP, async () => {
  const { page } = admin;
  await page.goto(url('/admin/login'));
  await page.locator('#login-form').waitFor();
  for (let i = 0; i < 15 && (await activeName(page)) !== 'username'; i++) await page.keyboard.press('Tab');
  assert.equal(await activeName(page), 'username', 'Tab reaches the username field');
  await page.keyboard.type(config.admin.user);
  await page.keyboard.press('Tab');
  assert.equal(await activeName(page), 'password', 'Tab goes from username to password');
  await page.keyboard.type(config.admin.password);
  const r = await submitting(page, () => page.keyboard.press('Enter'));
  assert.equal(r.status(), 303, 'a successful sign-in redirects');
  await page.waitForURL(url('/admin/tenants'));
  state.signedIn = true;
});

test('tenant list shows demo and other', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const r = await page.goto(url('/admin/tenants'));
  assert.equal(r.status(), 200);
  await page.locator(`tr[data-tenant-id="${T}"]`).waitFor();
  await page.locator(`tr[data-tenant-id="${config.otherTenant}"]`).waitFor();
  await page.locator('form#create-tenant input[name=id]').waitFor();
  await page.locator('form#create-tenant input[name=display_name]').waitFor();
  await screenshot(page, 'tenants');
  await clickAndWait(page, page.locator(`tr[data-tenant-id="${T}"] a`).first());
  assert.equal(pathOf(page), tpath());
});

test('new client form: one tab per authentication method', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  await openNewClient(page, 'client_secret_basic');
  for (const m of METHODS) {
    await page.locator(`a.method-tab[data-method="${m}"]`).waitFor();
  }
});

test('client_secret_basic: created through the form, secret shown once, gets a token', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const method = 'client_secret_basic';
  await openNewClient(page, method);
  const { secret, response } = await createSecretClient(page, method);
  const cc = response.headers()['cache-control'] || '';
  assert.match(cc, /no-store/, `the secret page must not be cached (Cache-Control: ${cc})`);
  await screenshot(page, 'secret');

  // Reloading the page (re-posting the form) must not show the secret again.
  await page.reload().catch(() => {});
  assert.ok(!(await page.content()).includes(secret), 'reload shows the secret again');

  // Neither does the client's page.
  const detail = await page.goto(url(tpath(`/clients/${IDS[method]}`)));
  assert.equal(detail.status(), 200);
  assert.equal(await text(page.locator('#client-method')), method);
  assert.equal(await page.locator('code#client-secret').count(), 0, 'no secret on the client page');
  assert.ok(!(await page.content()).includes(secret), 'the client page contains the secret');

  await expectToken('client_secret_basic', basicToken(IDS[method], secret), 200);
});

test('client_secret_post: chosen with the method tab, gets a token', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const method = 'client_secret_post';
  await openNewClient(page, 'client_secret_basic');
  await clickAndWait(page, page.locator(`a.method-tab[data-method="${method}"]`));
  assert.equal(await page.locator('#client-form input[name=token_endpoint_auth_method]').inputValue(), method);
  const { secret } = await createSecretClient(page, method);
  await expectToken(
    'client_secret_post',
    () => tokenRequest(admin.context.request, { client_id: IDS[method], client_secret: secret }),
    200,
  );
});

test('client_secret_jwt: created, gets a token with an HS256 assertion', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const method = 'client_secret_jwt';
  await openNewClient(page, method);
  const { secret } = await createSecretClient(page, method);
  await expectToken(
    'client_secret_jwt',
    () =>
      tokenRequest(admin.context.request, {
        client_id: IDS[method],
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion({ clientId: IDS[method], audience: issuer, key: secret }),
      }),
    200,
  );
});

test('private_key_jwt: pasted JWKS, Check lists the kid, created, gets a token', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const method = 'private_key_jwt';
  const jwks = JSON.stringify({ keys: [state.ecKey.jwk] }, null, 2);
  await openNewClient(page, method);
  await fillCommon(page, method, { name: 'Partner (private_key_jwt)' });
  await page.locator('#client-form textarea[name=jwks]').fill(jwks);
  await page.locator('#client-form select[name=token_endpoint_auth_signing_alg]').selectOption('ES256');
  await pressCheck(page);
  const row = page.locator('#parsed-keys tr.parsed-key');
  assert.equal(await row.count(), 1, 'one parsed key');
  assert.equal(await text(row.locator('.kid')), PKJWT_KID);
  assert.match(await text(row.locator('.alg')), /ES256/);
  // Check keeps what was typed.
  assert.equal(await page.locator('#client-form input[name=client_id]').inputValue(), IDS[method]);
  assert.equal(JSON.parse(await page.locator('#client-form textarea[name=jwks]').inputValue()).keys[0].kid, PKJWT_KID);
  await screenshot(page, 'new-client');

  await expectClientPage(page, method, await pressCreate(page));
  await page.locator('#parsed-keys .kid', { hasText: PKJWT_KID }).waitFor();
  await screenshot(page, 'client');
  await expectToken(
    'private_key_jwt',
    () =>
      tokenRequest(admin.context.request, {
        client_id: IDS[method],
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion({
          clientId: IDS[method],
          audience: issuer,
          key: state.ecKey.privateKey,
          kid: PKJWT_KID,
        }),
      }),
    200,
  );
});

test('tls_client_auth: subject DN, Check shows the parsed DN, created', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const method = 'tls_client_auth';
  await openNewClient(page, method);
  await fillCommon(page, method);
  await page.locator('#client-form select[name=tls_name_field]').selectOption('tls_client_auth_subject_dn');
  await page.locator('#client-form input[name=tls_name_value]').fill(PARTNER_DN);
  await pressCheck(page);
  // Shown as compared: one RDN per line, maybe with spaces around '='.
  const dn = (await text(page.locator('#parsed-dn'))).replace(/\s*=\s*/g, '=');
  assert.match(dn, /CN=partner-1/i);
  assert.match(dn, /O=Example/i);
  assert.ok(dn.search(/CN=/i) < dn.search(/O=/i), `most specific RDN first: ${dn}`);
  assert.equal(await page.locator('#client-form input[name=tls_name_value]').inputValue(), PARTNER_DN);
  await expectClientPage(page, method, await pressCreate(page));
});

test('self_signed_tls_client_auth: uploaded certificate, Check shows its thumbprint, created', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const method = 'self_signed_tls_client_auth';
  await openNewClient(page, method);
  await fillCommon(page, method);
  await page.locator('#certificate-file').setInputFiles(state.selfSigned.certPath);
  // The page's script copies the file's text into the textarea.
  const pem = page.locator('#client-form textarea[name=certificate_pem]');
  await eventually(async () => assert.match(await pem.inputValue(), /-----BEGIN CERTIFICATE-----/));
  await pressCheck(page);
  const shown = await text(page.locator('#parsed-thumbprint'));
  assert.equal(normalizeThumbprint(shown), x5tS256(state.selfSigned.pem), `thumbprint shown: ${shown}`);
  await expectClientPage(page, method, await pressCreate(page));
});

test('mTLS: the self-signed client gets a token with its certificate', STEP, async (t) => {
  if (needs(t, state.created.has('self_signed_tls_client_auth'), 'the self-signed client')) return;
  if (!config.mtls) return t.skip('TESSERA_E2E_MTLS_URL not set');
  const request = await apiRequest.newContext({
    ignoreHTTPSErrors: true,
    timeout: config.step,
    clientCertificates: [
      { origin: config.mtls, certPath: state.selfSigned.certPath, keyPath: state.selfSigned.keyPath },
    ],
  });
  try {
    await expectToken(
      'self_signed_tls_client_auth over mTLS',
      () => tokenRequest(request, { client_id: IDS.self_signed_tls_client_auth }, {}, config.mtls),
      200,
    );
  } finally {
    await request.dispose();
  }
});

test('mTLS: the tls_client_auth client gets a token with a certificate for its DN from a trusted CA', STEP, async (t) => {
  if (needs(t, state.created.has('tls_client_auth'), 'the tls_client_auth client')) return;
  const caCertPath = join(config.workdir, 'certs', 'ca.pem');
  const caKeyPath = join(config.workdir, 'certs', 'ca.key');
  if (!config.mtls || !config.workdir || !existsSync(caKeyPath)) {
    return t.skip('needs TESSERA_E2E_MTLS_URL and TESSERA_E2E_WORKDIR (the demo trusts its certs/ca.pem)');
  }
  const dir = mkdtempSync(join(work, 'partner-'));
  // openssl's -subj lists the least specific RDN first: this is CN=partner-1,O=Example.
  const cert = issuedCert(dir, { caCertPath, caKeyPath, subj: '/O=Example/CN=partner-1' });
  const request = await apiRequest.newContext({
    ignoreHTTPSErrors: true,
    timeout: config.step,
    clientCertificates: [{ origin: config.mtls, certPath: cert.certPath, keyPath: cert.keyPath }],
  });
  try {
    await expectToken(
      'tls_client_auth over mTLS',
      () => tokenRequest(request, { client_id: IDS.tls_client_auth }, {}, config.mtls),
      200,
    );
  } finally {
    await request.dispose();
  }
});

test('client list shows each client with its method badge; search narrows it', STEP, async (t) => {
  if (needs(t, state.created.size > 0, 'created clients')) return;
  const { page } = admin;
  const r = await page.goto(url(tpath('/clients')));
  assert.equal(r.status(), 200);
  for (const m of state.created) {
    const row = page.locator(`tr[data-client-id="${IDS[m]}"]`);
    assert.equal(await text(row.locator('span.badge-method')), m, `method badge of ${IDS[m]}`);
  }
  await screenshot(page, 'clients');

  await page.locator('form#client-search input[name=q]').fill('private-key');
  await clickAndWait(page, page.locator('form#client-search button[type=submit]'));
  assert.match(page.url(), /[?&]q=private-key/);
  const ids = await page.locator('tr[data-client-id]').evaluateAll((rows) => rows.map((r) => r.dataset.clientId));
  assert.deepEqual(ids, [IDS.private_key_jwt]);
});

test('dashboard summarises clients, keys, trust anchors and recent activity', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const r = await page.goto(url(tpath()));
  assert.equal(r.status(), 200);
  for (const id of ['#clients-by-method', '#keys-summary', '#anchors-summary', '#recent-activity']) {
    await page.locator(id).waitFor();
  }
  assert.match(await text(page.locator('#clients-by-method')), /private_key_jwt/);
  assert.match(await text(page.locator('#recent-activity')), /client\.create/);
  await screenshot(page, 'dashboard');
});

test('rotating the secret: the old secret is refused, the new one works', STEP, async (t) => {
  const method = 'client_secret_basic';
  if (needs(t, state.secrets[method], 'the client_secret_basic client')) return;
  const { page } = admin;
  const id = IDS[method];
  const old = state.secrets[method];
  await page.goto(url(tpath(`/clients/${id}`)));
  await page.locator('form#rotate-secret input[name=grace_period_secs]').fill('0');
  const r = await clickAndWait(page, page.locator('form#rotate-secret button[type=submit]'));
  assert.equal(r.status(), 303, `rotate answered ${r.status()}: ${await fieldErrors(page)}`);
  assert.equal(new URL(page.url()).pathname, tpath(`/clients/${id}/secret`));
  const fresh = await readSecretPage(page, id);
  assert.notEqual(fresh, old);
  state.secrets[method] = fresh;
  await expectToken('old secret after rotation', basicToken(id, old), 401);
  await expectToken('new secret after rotation', basicToken(id, fresh), 200);
});

test('trust anchors: an uploaded CA is listed (with an expiry warning), then deleted', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const cn = 'Tessera E2E Test CA';
  await page.goto(url(tpath('/trust-anchors')));
  const before = await page.locator('tr.anchor').count();
  await page.locator('form#add-anchor #pem-file').setInputFiles(state.ca.certPath);
  const pem = page.locator('form#add-anchor textarea[name=pem]');
  await eventually(async () => assert.match(await pem.inputValue(), /-----BEGIN CERTIFICATE-----/));
  const r = await clickAndWait(page, page.locator('form#add-anchor button[type=submit]'));
  assert.ok(r.status() < 400, `add anchor answered ${r.status()}: ${await fieldErrors(page)}`);
  await page.goto(url(tpath('/trust-anchors')));
  const row = page.locator('tr.anchor', { has: page.locator('td.subject', { hasText: cn }) });
  assert.equal(await row.count(), 1, `one anchor with subject ${cn}`);
  assert.equal(await page.locator('tr.anchor').count(), before + 1);
  assert.match(await text(row.locator('td.subject')), /O=Example/);
  await row.locator('.expiry-warning').waitFor();
  await screenshot(page, 'trust-anchors');

  await clickAndWait(page, row.locator('form.delete-anchor button[type=submit]'));
  await page.goto(url(tpath('/trust-anchors')));
  assert.equal(await row.count(), 0, 'the anchor is gone');
  assert.equal(await page.locator('tr.anchor').count(), before);
  state.anchorsDone = true;
});

test('disable a client: its token requests fail; enable it: they work again', STEP, async (t) => {
  const method = 'client_secret_basic';
  if (needs(t, state.secrets[method], 'the client_secret_basic client')) return;
  const { page } = admin;
  const id = IDS[method];
  await page.goto(url(tpath(`/clients/${id}`)));
  await clickAndWait(page, page.locator('form#disable-client button[type=submit]'));
  assert.equal(await text(page.locator('#client-status')), 'disabled');
  await page.goto(url(tpath('/clients')));
  assert.match(await text(page.locator(`tr[data-client-id="${id}"]`)), /disabled/);
  await expectToken('disabled client', basicToken(id, state.secrets[method]), 401);

  await page.goto(url(tpath(`/clients/${id}`)));
  await clickAndWait(page, page.locator('form#enable-client button[type=submit]'));
  assert.equal(await text(page.locator('#client-status')), 'enabled');
  await page.locator('form#disable-client').waitFor();
  await expectToken('enabled again', basicToken(id, state.secrets[method]), 200);
});

test('delete a client through the confirmation page', STEP, async (t) => {
  const method = 'client_secret_post';
  if (needs(t, state.secrets[method], 'the client_secret_post client')) return;
  const { page } = admin;
  const id = IDS[method];
  await page.goto(url(tpath(`/clients/${id}`)));
  await clickAndWait(page, page.locator('a#delete-client'));
  assert.equal(new URL(page.url()).pathname, tpath(`/clients/${id}/delete`));
  const r = await clickAndWait(page, page.locator('form#confirm-delete button[type=submit]'));
  assert.equal(r.status(), 303);
  assert.equal(new URL(page.url()).pathname, tpath('/clients'));
  assert.equal(await page.locator(`tr[data-client-id="${id}"]`).count(), 0);
  const gone = await page.goto(url(tpath(`/clients/${id}`)));
  assert.equal(gone.status(), 404);
  await expectToken(
    'deleted client',
    () => tokenRequest(admin.context.request, { client_id: id, client_secret: state.secrets[method] }),
    401,
  );
  state.created.delete(method);
  state.deleted = true;
});

test('signing keys: listed; rotation publishes a new key', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  await page.goto(url(tpath('/keys')));
  const kids = () => page.locator('tr.key td.kid').allInnerTexts();
  const before = await kids();
  assert.ok(before.length >= 1, 'at least one key');
  assert.ok((await page.locator('tr.key td.state').allInnerTexts()).every((s) => s.trim()), 'each key has a state');
  await screenshot(page, 'keys');
  await clickAndWait(page, page.locator('form#rotate-keys button[type=submit]'));
  await page.goto(url(tpath('/keys')));
  const added = (await kids()).filter((k) => !before.includes(k));
  assert.equal(added.length, 1, `one new kid after rotation (before ${before}, after ${await kids()})`);
});

test('settings: the display name is saved', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  await page.goto(url(tpath('/settings')));
  const form = page.locator('form#settings-form');
  for (const name of ['display_name', 'access_token_ttl_secs', 'assertion_max_lifetime_secs', 'clock_skew_secs', 'default_audience']) {
    await form.locator(`input[name=${name}]`).waitFor();
  }
  await form.locator('select[name=signing_alg]').waitFor();
  await form.locator('textarea[name=resources]').waitFor();
  assert.ok((await form.locator('input[type=checkbox][name=assertion_algs]').count()) >= 2);
  await screenshot(page, 'settings');
  const name = 'Demo tenant (edited by the e2e test)';
  await form.locator('input[name=display_name]').fill(name);
  const r = await clickAndWait(page, form.locator('button[type=submit]'));
  assert.ok(r.status() < 400, `save settings answered ${r.status()}: ${await fieldErrors(page)}`);
  await page.goto(url(tpath('/settings')));
  assert.equal(await page.locator('form#settings-form input[name=display_name]').inputValue(), name);
});

test('audit log: each change with actor user:<admin>; filter by action', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page } = admin;
  const r = await page.goto(url(tpath('/audit')));
  assert.equal(r.status(), 200);
  const rows = () =>
    page.locator('tr.audit-entry').evaluateAll((trs) =>
      trs.map((tr) => ({
        at: tr.querySelector('td.audit-at')?.textContent.trim(),
        actor: tr.querySelector('td.audit-actor')?.textContent.trim(),
        action: tr.querySelector('td.audit-action')?.textContent.trim(),
        target: tr.querySelector('td.audit-target')?.textContent.trim(),
        source: tr.querySelector('td.audit-source')?.textContent.trim(),
      })),
    );
  const all = await rows();
  const expected = ['client.create', 'client.rotate_secret', 'client.update', 'keys.rotate', 'tenant.update'];
  if (state.anchorsDone) expected.push('trust_anchor.add', 'trust_anchor.delete');
  if (state.deleted) expected.push('client.delete');
  for (const action of expected) {
    assert.ok(
      all.some((e) => e.action === action && e.actor === ADMIN_ACTOR),
      `an entry ${action} by ${ADMIN_ACTOR}; entries: ${JSON.stringify(all.slice(0, 40))}`,
    );
  }
  for (const m of Object.keys(state.secrets)) {
    assert.ok(
      all.some((e) => e.action === 'client.create' && e.target.includes(IDS[m])),
      `client.create of ${IDS[m]}`,
    );
  }
  const html = await page.content();
  for (const s of Object.values(state.secrets)) assert.ok(!html.includes(s), 'a secret appears in the audit log');
  await screenshot(page, 'audit');

  await page.locator('form#audit-filter input[name=action]').fill('client.rotate_secret');
  await clickAndWait(page, page.locator('form#audit-filter button[type=submit]'));
  assert.match(page.url(), /[?&]action=client\.rotate_secret/);
  const filtered = await rows();
  assert.ok(filtered.length >= 1, 'the filter keeps the rotation');
  assert.ok(filtered.every((e) => e.action === 'client.rotate_secret'), JSON.stringify(filtered));
  assert.equal(await page.locator('form#audit-filter input[name=action]').inputValue(), 'client.rotate_secret');
});

test('a POST without a valid csrf_token is refused with 403 and changes nothing', STEP, async (t) => {
  const id = IDS.client_secret_basic;
  if (needs(t, state.secrets.client_secret_basic, 'the client_secret_basic client')) return;
  const { page, context } = admin;
  const post = (path, form) =>
    context.request.post(url(path), { form, maxRedirects: 0, failOnStatusCode: false });
  const attempts = [
    [tpath(`/clients/${id}/disable`), { confirm: 'yes' }],
    [tpath(`/clients/${id}/disable`), { csrf_token: 'A'.repeat(43) }],
    [tpath(`/clients/${id}/delete`), {}],
    ['/admin/tenants', { id: 'csrf-e2e', display_name: 'Should not exist' }],
  ];
  for (const [path, form] of attempts) {
    const r = await post(path, form);
    const body = await r.text();
    assert.equal(r.status(), 403, `POST ${path} ${JSON.stringify(form)} answered ${r.status()} (303 would mean the session cookie was not sent)`);
    assert.equal(h1Of(body), 'Forbidden');
  }
  await page.goto(url(tpath(`/clients/${id}`)));
  assert.equal(await text(page.locator('#client-status')), 'enabled');
  await page.goto(url('/admin/tenants'));
  assert.equal(await page.locator('tr[data-tenant-id="csrf-e2e"]').count(), 0);
  await expectToken('client after refused POSTs', basicToken(id, state.secrets.client_secret_basic), 200);
});

test('tenant admins see only their tenant (others: 404 Not found)', STEP, async () => {
  const check404 = async (page, path) => {
    const r = await page.goto(url(path));
    assert.equal(r.status(), 404, `GET ${path} as a tenant admin`);
    assert.equal(await text(page.locator('h1')), 'Not found');
  };
  // The global admin too gets 404 for a tenant that does not exist.
  await check404(admin.page, '/admin/tenants/no-such-tenant');

  const other = await newSession(browser, problems);
  try {
    const r = await signIn(other.page, config.otherAdmin);
    assert.equal(r.status(), 303, 'tenant admin signs in');
    await other.page.waitForURL(url(tpath('', config.otherTenant)));
    await other.page.locator('#clients-by-method').waitFor();
    for (const path of [tpath(), tpath('/clients'), tpath(`/clients/${IDS.private_key_jwt}`), tpath('/audit'), '/admin/tenants']) {
      await check404(other.page, path);
    }
    // Its own valid CSRF token does not let it change the other tenant.
    await other.page.goto(url(tpath('', config.otherTenant)));
    const csrf = await other.page.locator('#logout-form input[name=csrf_token]').inputValue();
    const p = await other.context.request.post(url(tpath(`/clients/${IDS.private_key_jwt}/disable`)), {
      form: { csrf_token: csrf },
      maxRedirects: 0,
      failOnStatusCode: false,
    });
    assert.equal(p.status(), 404, 'POST to the other tenant');
  } finally {
    await other.context.close();
  }
  if (state.created.has('private_key_jwt')) {
    await admin.page.goto(url(tpath(`/clients/${IDS.private_key_jwt}`)));
    assert.equal(await text(admin.page.locator('#client-status')), 'enabled');
  }

  const demo = await newSession(browser, problems);
  try {
    await signIn(demo.page, config.demoAdmin);
    await demo.page.waitForURL(url(tpath()));
    await check404(demo.page, tpath('', config.otherTenant));
    await check404(demo.page, '/admin/tenants');
  } finally {
    await demo.context.close();
  }
});

// The secret page is reached by POST, redirect, GET: reloading it shows the
// client's page (the secret is not kept) and never repeats the change.
test(
  'reloading a secret page neither registers another client nor rotates again',
  STEP,
  async (t) => {
    if (needs(t, state.signedIn, 'the admin signed in')) return;
    const { page } = admin;
    const name = 'E2E generated id';
    await openNewClient(page, 'client_secret_basic');
    await page.locator('#client-form input[name=client_name]').fill(name);
    await pressCreate(page);
    const id = await text(page.locator('#client-id'));
    await page.reload();
    await page.goto(url(tpath(`/clients?q=${encodeURIComponent(name)}`)));
    const ids = await page.locator('tr[data-client-id]').evaluateAll((rows) => rows.map((r) => r.dataset.clientId));
    assert.deepEqual(ids, [id], 'reloading the page registered another client');

    await page.goto(url(tpath(`/clients/${id}`)));
    await clickAndWait(page, page.locator('form#rotate-secret button[type=submit]'));
    const shown = await text(page.locator('code#client-secret'));
    await page.reload();
    await expectToken('the secret shown after a rotation, once the page was reloaded', basicToken(id, shown), 200);
  },
);

test('sign-out ends the session, also for a copy of the old cookie', STEP, async (t) => {
  if (needs(t, state.signedIn, 'the admin signed in')) return;
  const { page, context } = admin;
  await page.goto(url('/admin/tenants'));
  const cookies = await context.cookies(url('/admin/'));
  assert.ok(cookies.length >= 1, 'a session cookie');
  await clickAndWait(page, page.locator('form#logout-form button[type=submit]'));
  assert.equal(pathOf(page), '/admin/login');
  await page.goto(url('/admin/tenants'));
  assert.equal(pathOf(page), '/admin/login');

  const fresh = await newSession(browser, problems);
  try {
    await fresh.context.addCookies(cookies);
    const r = await fresh.context.request.get(url('/admin/tenants'), { maxRedirects: 0, failOnStatusCode: false });
    assert.equal(r.status(), 303, 'the old cookie no longer signs in');
    assert.equal(new URL(r.headers().location, config.base).pathname, '/admin/login');
    await fresh.page.goto(url('/admin/tenants'));
    assert.equal(pathOf(fresh.page), '/admin/login');
  } finally {
    await fresh.context.close();
  }
});

test('no JavaScript errors or failed page resources', () => {
  assert.deepEqual(problems, []);
});
