// A real OpenID provider (panva's oidc-provider) on loopback, the peer of the cockpit's single sign-on tests.
//
//   PORT=4010 node provider.mjs            (or: node provider.mjs 4010)
//
// Environment:
//   PORT           the port to listen on (127.0.0.1); argv[2] works too. Default 4010.
//   ISSUER         the issuer it announces; default http://127.0.0.1:<PORT>.
//   CLIENT_SECRET  the secret of every client below; default "cockpit-secret".
//   CLIENTS        extra client ids, comma-separated.
//
// Its sign-in is oidc-provider's own development interaction (a login form, then a consent form). The login is
// the account id: an e-mail address signs in as an account with that e-mail, verified; "unverified:<e-mail>"
// signs in with email_verified false; "entra:<e-mail>" (and "entra-unverified:<e-mail>") signs in the way Microsoft
// Entra ID does: no email_verified, and its optional claim xms_edov true (false). The consent form's "Cancel" link
// answers the client with access_denied.
//
// Clients (confidential, client_secret_basic, authorization code + PKCE S256 required; any loopback redirect URI):
//   cockpit, cockpit-other             behave.
//   cockpit-wrong-aud                  the ID token's aud is another client's (cockpit-other).
//   cockpit-expired                    the ID token's iat and exp are two hours in the past.
//   cockpit-wrong-iss                  the ID token's iss is another issuer.
//   cockpit-bad-nonce                  the ID token's nonce is not the one the client sent.
//   cockpit-bad-signature              the ID token is signed by another key under the provider's key id.
// A misbehaving client's ID token is signed again with the provider's own key (but for the last one), so only the
// claim is wrong.

import { createServer } from 'node:http';

import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || process.argv[2] || 4010);
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const secret = process.env.CLIENT_SECRET || 'cockpit-secret';
const HOURS_2 = 2 * 60 * 60;

const TAMPER = {
  'cockpit-wrong-aud': (claims) => ({ ...claims, aud: 'cockpit-other', azp: 'cockpit-other' }),
  'cockpit-expired': (claims) => ({ ...claims, iat: claims.iat - HOURS_2, exp: claims.exp - HOURS_2 }),
  'cockpit-wrong-iss': (claims) => ({ ...claims, iss: 'http://127.0.0.1:9/not-the-issuer' }),
  'cockpit-bad-nonce': (claims) => ({ ...claims, nonce: 'not-the-nonce-the-client-sent' }),
  'cockpit-bad-signature': (claims) => claims,
};
const clientIds = ['cockpit', 'cockpit-other', ...Object.keys(TAMPER),
  ...(process.env.CLIENTS || '').split(',').map((id) => id.trim()).filter(Boolean)];

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const { privateKey: foreignKey } = await generateKeyPair('RS256');
const signingJwk = { ...(await exportJWK(privateKey)), kid: 'peer-signing-key', alg: 'RS256', use: 'sig' };

function account(accountId) {
  const [, kind = '', email = accountId] = accountId.match(/^(unverified|entra|entra-unverified):(.*)$/) || [];
  const verification = kind.startsWith('entra')
    ? { xms_edov: kind === 'entra' } // Entra ID: no email_verified at all
    : { email_verified: kind !== 'unverified' };
  return {
    accountId,
    async claims() {
      return { sub: accountId, email, ...verification, name: email.split('@')[0] };
    },
  };
}

const provider = new Provider(issuer, {
  clients: clientIds.map((clientId) => ({
    client_id: clientId,
    client_secret: secret,
    redirect_uris: ['http://127.0.0.1/sso/callback/'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [signingJwk] },
  claims: { openid: ['sub'], email: ['email', 'email_verified', 'xms_edov'], profile: ['name'] },
  pkce: { required: () => true },
  cookies: { keys: ['cockpit-sso-peer-cookie-key'] },
  async findAccount(ctx, id) {
    return account(id);
  },
});

// The tests run the cockpit on a random port: any loopback http(s) redirect URI is accepted.
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
  try {
    const url = new URL(value);
    return ['http:', 'https:'].includes(url.protocol) && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
};

provider.use(async (ctx, next) => {
  await next();
  if (ctx.method !== 'POST' || ctx.path !== '/token' || !ctx.body || typeof ctx.body.id_token !== 'string') return;
  const clientId = ctx.oidc && ctx.oidc.client && ctx.oidc.client.clientId;
  const tamper = TAMPER[clientId];
  if (!tamper) return;
  const header = decodeProtectedHeader(ctx.body.id_token);
  const claims = tamper(decodeJwt(ctx.body.id_token));
  ctx.body = {
    ...ctx.body,
    id_token: await new SignJWT(claims).setProtectedHeader({ alg: header.alg, kid: header.kid })
      .sign(clientId === 'cockpit-bad-signature' ? foreignKey : privateKey),
  };
});

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc peer listening on ${issuer} (clients: ${clientIds.join(', ')})`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
