// openid-client 6.9.0 (oauth4webapi 3.8.8): the Client Credentials Grant of the current major.
//
// Follows the README: "Quick start" (`client.discovery(server, clientId, clientSecret)`),
// "Client Credentials Grant" (`client.clientCredentialsGrant(config, { scope, resource })`,
// here with Auth0's `audience` in place of `resource`) and `client.fetchProtectedResource(config,
// accessToken, url, "GET")` for the API call. The tokens are fetched once and shared by every
// worker, as the README's snippet leaves them.
//
// Shows: discovery (the RECOMMENDED way) first GETs /.well-known/openid-configuration (Auth0
// serves it; the contract allows it); the default ClientSecretPost in a form body; responses
// are validated (no access_token or a token_type other than Bearer/DPoP is an error); redirects
// are not followed; a 30 s timeout per request; no token is kept or renewed by the library.
//
// M2M_ADAPTER_FIX=1: a new token once `tokens.expiresIn()` is down to 1 s (the library leaves
// renewal to the application), and `config.timeout = 10`.
//
// allowInsecureRequests is applied only when the emulator serves plain http on loopback; the
// module refuses http: otherwise.
import * as client from "openid-client";
import { main } from "./protocol.mjs";

main(async (s) => {
  const issuer = new URL("/", s.tokenUrl);
  const insecure = issuer.protocol === "http:";
  const options = insecure ? { execute: [client.allowInsecureRequests] } : undefined;
  const config = await client.discovery(issuer, s.clientId, s.clientSecret, undefined, options);
  if (s.fix) config.timeout = 10;
  const parameters = {};
  if (s.scope) parameters.scope = s.scope;
  if (s.audience) parameters.audience = s.audience;

  let tokens = client.clientCredentialsGrant(config, parameters);
  await tokens;
  const api = new URL(s.apiUrl);
  return async () => {
    if (s.fix && (await tokens).expiresIn() <= 1) {
      tokens = client.clientCredentialsGrant(config, parameters);
    }
    const { access_token } = await tokens;
    const response = await client.fetchProtectedResource(config, access_token, api, "GET");
    return response.status;
  };
});
