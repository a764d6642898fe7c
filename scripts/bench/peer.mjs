// The benchmark's peer: panva's oidc-provider configured for the same
// scenarios as the Tessera bench tenant. scripts/bench.sh copies this file
// next to the node_modules it installs and starts it pinned to CPU 0.
//
// - client_credentials only; JWT access tokens signed ES256 (a default
//   resource indicator whose resource server asks for the "jwt" format);
// - client_secret_basic, private_key_jwt (ES256, RS256, EdDSA assertions,
//   jti replay detection in the default in-memory adapter), tls_client_auth
//   by subject DN with certificate-bound tokens (features.mTLS);
// - two HTTPS listeners, as Tessera has: the main one, and one that asks for
//   (does not require) a client certificate. The certificate is read from the
//   TLS socket once per connection and cached on it.
//
// Settings come from PEER_* environment variables (see below).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createPrivateKey } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const port = Number(env('PEER_PORT'));
const mtlsPort = Number(env('PEER_MTLS_PORT'));
const issuer = `https://127.0.0.1:${port}`;
const resource = env('PEER_RESOURCE');
const tls = {
  cert: readFileSync(env('PEER_TLS_CERT')),
  key: readFileSync(env('PEER_TLS_KEY')),
};
const ca = readFileSync(env('PEER_CA'));
const jwks = (file) => JSON.parse(readFileSync(file, 'utf8'));
const signingKey = {
  ...createPrivateKey(readFileSync(env('PEER_SIGNING_KEY'))).export({ format: 'jwk' }),
  kid: 'peer-es256',
  alg: 'ES256',
  use: 'sig',
};

const common = {
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'bench:read',
};
const clients = [
  {
    client_id: 'bench-secret',
    client_secret: env('PEER_CLIENT_SECRET'),
    token_endpoint_auth_method: 'client_secret_basic',
  },
  ...[['es256', 'ES256'], ['rs256', 'RS256'], ['eddsa', 'EdDSA']].map(([id, alg]) => ({
    client_id: `bench-${id}`,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: alg,
    jwks: jwks(env(`PEER_JWKS_${id.toUpperCase()}`)),
  })),
  {
    client_id: 'bench-mtls',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: env('PEER_MTLS_SUBJECT_DN'),
    tls_client_certificate_bound_access_tokens: true,
  },
].map((c) => ({ ...common, ...c }));

// The client certificate of a request, read once per TLS connection.
const peerCerts = new WeakMap();
function socketCertificate(ctx) {
  const socket = ctx.req.socket;
  if (!peerCerts.has(socket)) {
    peerCerts.set(socket, (socket.getPeerX509Certificate && socket.getPeerX509Certificate()) || null);
  }
  return peerCerts.get(socket);
}

// "O=x\nCN=y" (Node's order: as in the certificate) -> "CN=y,O=x" (RFC 4514 order).
const rfc4514 = (subject) => subject.split('\n').reverse().join(',');

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  scopes: ['openid', 'bench:read'],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  clientAuthMethods: ['client_secret_basic', 'private_key_jwt', 'tls_client_auth'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256', 'RS256', 'EdDSA'],
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: 'bench:read',
          audience: resource,
          accessTokenTTL: 900,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      getCertificate: (ctx) => socketCertificate(ctx) || undefined,
      certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => {
        if (property !== 'tls_client_auth_subject_dn') return false;
        const cert = socketCertificate(ctx);
        return !!cert && rfc4514(cert.subject) === expected;
      },
    },
  },
});
provider.proxy = false;

const app = provider.callback();
const main = https.createServer({ ...tls }, app);
const mtls = https.createServer({ ...tls, ca, requestCert: true, rejectUnauthorized: false }, app);
main.listen(port, '127.0.0.1', () => {
  mtls.listen(mtlsPort, '127.0.0.1', () => {
    console.log(`peer: oidc-provider listening on ${issuer} (mTLS on ${mtlsPort})`);
  });
});
