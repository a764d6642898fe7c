// Helpers for the admin UI browser tests: configuration from the
// environment (set by scripts/e2e), Chromium, form submission, and the
// cryptography the tests need (keys, certificates, client assertions).

import { execFileSync } from 'node:child_process';
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  X509Certificate,
} from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with scripts/e2e (see e2e/README.md)`);
  return v;
}

/** Everything the tests take from the environment. */
export const config = {
  base: required('TESSERA_E2E_BASE_URL').replace(/\/+$/, ''),
  mtls: (process.env.TESSERA_E2E_MTLS_URL || '').replace(/\/+$/, ''),
  /** The server's working directory (for the demo's development CA), if known. */
  workdir: process.env.TESSERA_E2E_WORKDIR || '',
  tenant: 'demo',
  otherTenant: 'other',
  admin: { user: required('TESSERA_E2E_ADMIN_USER'), password: required('TESSERA_E2E_ADMIN_PASSWORD') },
  demoAdmin: { user: required('TESSERA_E2E_DEMO_ADMIN_USER'), password: required('TESSERA_E2E_DEMO_ADMIN_PASSWORD') },
  otherAdmin: { user: required('TESSERA_E2E_OTHER_ADMIN_USER'), password: required('TESSERA_E2E_OTHER_ADMIN_PASSWORD') },
  screenshots: process.env.TESSERA_E2E_SCREENSHOTS || mkdtempSync(join(tmpdir(), 'tessera-e2e-shots-')),
  chromium: process.env.TESSERA_E2E_CHROMIUM || '/usr/bin/chromium',
  /** Timeout of one browser action or wait, in ms: a broken page fails fast. */
  step: Number(process.env.TESSERA_E2E_STEP_TIMEOUT_MS || 10_000),
};
mkdirSync(config.screenshots, { recursive: true });

export async function launchBrowser() {
  return chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new browser context (its own cookie jar) with one page. Page errors and
 * failed sub-resources (scripts, styles) are collected in `problems`.
 */
export async function newSession(browser, problems) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 800 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(config.step);
  context.setDefaultNavigationTimeout(config.step);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`JavaScript error on ${page.url()}: ${e.message}`));
  // Navigations are checked by the tests themselves; a missing favicon
  // (the browser asks for one) is not a page resource.
  const counts = (r) => !r.isNavigationRequest() && !new URL(r.url()).pathname.endsWith('/favicon.ico');
  page.on('requestfailed', (r) => {
    if (counts(r)) problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (counts(r.request()) && r.status() >= 400) {
      problems.push(`sub-resource ${r.url()} answered ${r.status()}`);
    }
  });
  page.on('dialog', (d) => {
    problems.push(`unexpected dialog on ${page.url()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  return { context, page };
}

export const url = (path) => config.base + path;
export const tpath = (path = '', tenant = config.tenant) => `/admin/tenants/${tenant}${path}`;

/** The path (and query) of the page's current URL. */
export function pathOf(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/**
 * Does `action` (a click or key press that submits a form) and waits until
 * the resulting page has loaded. Returns the first navigation response:
 * for a POST that answers 303 it is the 303.
 */
export async function submitting(page, action) {
  const loaded = page.waitForEvent('load', { timeout: config.step });
  const answered = page.waitForResponse(
    (r) => r.request().isNavigationRequest() && r.request().frame() === page.mainFrame(),
    { timeout: config.step },
  );
  // Avoid unhandled rejections when `action` itself throws.
  loaded.catch(() => {});
  answered.catch(() => {});
  await action();
  const [response] = await Promise.all([answered, loaded]);
  return response;
}

/** Clicks `locator` and waits for the next page (see `submitting`). */
export const clickAndWait = (page, locator) => submitting(page, () => locator.click());

export async function text(locator) {
  return (await locator.innerText({ timeout: config.step })).trim();
}

/** Polls `fn` until it stops throwing, for at most `ms` (default: one step). */
export async function eventually(fn, ms = config.step, every = 250) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= until) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}

export async function screenshot(page, name) {
  const path = join(config.screenshots, `admin-${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  return path;
}

/** The h1 of an HTML document given as text. */
export function h1Of(html) {
  const m = /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html);
  return m ? m[1].replace(/<[^>]+>/g, '').trim() : null;
}

// --- cryptography ---------------------------------------------------------

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** An EC P-256 key pair and its public JWK (with kid, alg, use). */
export function newEcKey(kid) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' };
  return { privateKey, jwk };
}

/** A signed JWT (ES256 with a KeyObject, or HS256 with a string secret). */
export function signJwt(header, payload, key) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig =
    typeof key === 'string'
      ? createHmac('sha256', key).update(input).digest()
      : cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

/** An RFC 7523 client assertion for `clientId`, valid 60 s. */
export function clientAssertion({ clientId, audience, key, kid }) {
  const now = Math.floor(Date.now() / 1000);
  const header = typeof key === 'string' ? { alg: 'HS256', typ: 'JWT' } : { alg: 'ES256', typ: 'JWT', kid };
  const payload = {
    iss: clientId,
    sub: clientId,
    aud: audience,
    jti: randomBytes(16).toString('hex'),
    iat: now,
    exp: now + 60,
  };
  return signJwt(header, payload, key);
}

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A self-signed EC P-256 certificate (CN=selfsigned): paths and PEM. */
export function selfSignedCert(dir) {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-subj', '/CN=selfsigned', '-days', '30', '-keyout', 'k.pem', '-out', 'c.pem'],
    dir,
  );
  const certPath = join(dir, 'c.pem');
  return { certPath, keyPath: join(dir, 'k.pem'), pem: readFileSync(certPath, 'utf8') };
}

/** A CA certificate that expires in `days` (fewer than 30: the UI warns). */
export function caCert(dir, cn, days) {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-subj', `/O=Example/CN=${cn}`, '-days', String(days),
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', 'ca-key.pem', '-out', 'ca.pem'],
    dir,
  );
  const certPath = join(dir, 'ca.pem');
  return { certPath, pem: readFileSync(certPath, 'utf8') };
}

/** A client certificate for `subj` (e.g. /O=Example/CN=partner-1) issued by a CA. */
export function issuedCert(dir, { caCertPath, caKeyPath, subj }) {
  openssl(
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-subj', subj, '-keyout', 'client.key', '-out', 'client.csr'],
    dir,
  );
  writeFileSync(join(dir, 'client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  openssl(
    ['x509', '-req', '-in', 'client.csr', '-CA', caCertPath, '-CAkey', caKeyPath,
      '-set_serial', '0x' + randomBytes(8).toString('hex'), '-days', '1', '-sha256',
      '-extfile', 'client.ext', '-out', 'client.pem'],
    dir,
  );
  return { certPath: join(dir, 'client.pem'), keyPath: join(dir, 'client.key') };
}

/** RFC 8705 x5t#S256 of a PEM certificate (base64url of SHA-256 of DER). */
export function x5tS256(pem) {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
}

/** A thumbprint as shown (base64url, or hex with or without colons) to base64url. */
export function normalizeThumbprint(shown) {
  const s = shown.trim();
  if (/^([0-9a-f]{2}:?){32}$/i.test(s)) return Buffer.from(s.replace(/:/g, ''), 'hex').toString('base64url');
  return s.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

export const basicAuth = (id, secret) =>
  'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
