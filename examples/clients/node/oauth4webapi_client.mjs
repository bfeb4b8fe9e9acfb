// oauth4webapi 3.8.8: the library's examples/client_credentials.ts.
//
// Follows that example: `discoveryRequest(issuer)` + `processDiscoveryResponse`,
// `ClientSecretPost(client_secret)`, `clientCredentialsGrantRequest(as, client, clientAuth,
// parameters)` + `processClientCredentialsResponse`, then `protectedResourceRequest(access_token,
// "GET", url)`; Auth0's `audience` as one more parameter. One token, fetched at start and shared
// by every worker.
//
// Shows: the discovery step GETs /.well-known/openid-configuration (Auth0 serves it; the
// contract allows it); ClientSecretPost in a form body; strict response validation (no
// access_token, or a token_type other than Bearer/DPoP, is an error); `redirect: "manual"`;
// no timeout unless a `signal` is given; no token is kept or renewed by the library.
//
// M2M_ADAPTER_FIX=1: `signal: AbortSignal.timeout(10000)` on every request, and a new token
// once expires_in has run out (less 1 s): the library leaves renewal to the application.
//
// allowInsecureRequests is set only when the emulator serves plain http on loopback.
import * as oauth from "oauth4webapi";
import { main } from "./protocol.mjs";

main(async (s) => {
  const issuer = new URL("/", s.tokenUrl);
  const insecure = issuer.protocol === "http:";
  const options = () => ({
    [oauth.allowInsecureRequests]: insecure,
    signal: s.fix ? AbortSignal.timeout(10000) : undefined,
  });
  const as = await oauth
    .discoveryRequest(issuer, options())
    .then((response) => oauth.processDiscoveryResponse(issuer, response));
  const client = { client_id: s.clientId };
  const clientAuth = oauth.ClientSecretPost(s.clientSecret);
  const parameters = new URLSearchParams();
  if (s.scope) parameters.set("scope", s.scope);
  if (s.audience) parameters.set("audience", s.audience);

  async function getToken() {
    const sent = Date.now();
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, parameters, options());
    const result = await oauth.processClientCredentialsResponse(as, client, response);
    return { value: result.access_token, renewAt: sent + (Number(result.expires_in) - 1) * 1000 };
  }

  let token = await getToken();
  const api = new URL(s.apiUrl);
  return async () => {
    if (s.fix && Date.now() >= token.renewAt) token = await getToken();
    const response = await oauth.protectedResourceRequest(token.value, "GET", api, undefined, undefined, options());
    return response.status;
  };
});
