// A real OpenID Provider (the npm package oidc-provider) on loopback for the federation tests.
// Binds 127.0.0.1 on a free port (0), then prints one JSON line: {"issuer": "http://127.0.0.1:N"}.
// Settings from the environment: OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI, OIDC_ID_TOKEN_ALG.
// The interaction (login and consent) is automatic: the account is the `login_hint` of the
// authorization request (one of ACCOUNTS), as a bank's single sign-on would have it.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const ACCOUNTS = {
  'sub-dana-0001': { sub: 'sub-dana-0001', preferred_username: 'dana', name: 'Dana Dealer', email: 'dana@bank.test', email_verified: true },
  'sub-eve-0002': { sub: 'sub-eve-0002', preferred_username: 'eve', name: 'Eve Unknown', email: 'eve@bank.test', email_verified: true },
};

function signingKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return { keys: [{ ...rsa, kid: 'rsa-1', use: 'sig', alg: 'RS256' }, { ...ec, kid: 'ec-1', use: 'sig', alg: 'ES256' }] };
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'dealchat-test',
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: process.env.OIDC_ID_TOKEN_ALG || 'RS256',
    }],
    jwks: signingKeys(),
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (ctx, id) => (ACCOUNTS[id] ? { accountId: id, claims: async () => ACCOUNTS[id] } : undefined),
  });
  const oidc = provider.callback();
  server.on('request', async (req, res) => {
    if (!req.url.startsWith('/interaction/')) return oidc(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        const accountId = details.params.login_hint;
        const result = ACCOUNTS[accountId] ? { login: { accountId } } : { error: 'access_denied', error_description: 'no such test account' };
        return await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
      }
      const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const grantId = await grant.save();
      return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      res.statusCode = 500;
      res.end(String(err));
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
