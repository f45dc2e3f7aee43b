// A real OpenID provider for traek's single sign-on tests: panva's oidc-provider (OpenID
// Certified) with its development login and consent screens, two clients, and users in groups.
//
//   node provider.mjs
//
// It listens on a port of the system's choosing and prints `port N`; then each line on stdin
// is the URL of a traek server, for which it (re)creates the provider and prints `ready`.
// alice is in traek-admins, bob in traek-viewers, carol only in sales (no traek role). Any
// password is accepted by the development login screen.
import http from 'node:http';
import readline from 'node:readline';
import Provider from 'oidc-provider';
const groups = {
  alice: ['traek-admins', 'staff'],
  bob: ['traek-viewers'],
  carol: ['sales'],
};

function provider(port, traek) {
  return new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: 'traek',
        client_secret: 'traek-client-secret-0123456789',
        redirect_uris: [`${traek}/ui/oidc/callback`],
        post_logout_redirect_uris: [`${traek}/ui/login`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        // Another application of the same provider: its ID tokens are not for traek.
        client_id: 'other-app',
        client_secret: 'other-app-secret-0123456789',
        redirect_uris: [`${traek}/ui/oidc/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'groups'],
      email: ['email'],
    },
    conformIdTokenClaims: false,
    cookies: { keys: ['traek-test-provider-cookie-key'] },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            preferred_username: id,
            email: `${id}@example.test`,
            groups: groups[id] ?? [],
          };
        },
      };
    },
  });
}

let handler = (req, res) => {
  res.statusCode = 503;
  res.end('not configured yet');
};
const server = http.createServer((req, res) => handler(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  console.log(`port ${port}`);
  readline.createInterface({ input: process.stdin }).on('line', (traek) => {
    const p = provider(port, traek.trim());
    p.on('server_error', (ctx, err) => console.error('server_error', err));
    handler = p.callback();
    console.log('ready');
  });
});
