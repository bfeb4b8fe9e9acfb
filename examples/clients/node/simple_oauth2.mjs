// simple-oauth2 5.1.0 (@hapi/wreck): ClientCredentials.getToken, then fetch with the token.
//
// Follows the README: the minimal `{ client: { id, secret }, auth: { tokenHost } }` config
// (tokenPath from M2M_TOKEN_URL), "Client Credentials Grant" (`new ClientCredentials(config)`,
// `await client.getToken({ scope })`, Auth0's `audience` as one more token parameter), and
// "Tokens obtained with the Client Credentials grant may not be refreshed. Fetch a new token
// when it's expired" with `accessToken.expired()`. The API call is Node's fetch with
// `Bearer ${accessToken.token.access_token}`; one token shared by every worker.
//
// Shows: the default authorizationMethod `header` (HTTP Basic) and bodyFormat `form`; any 2xx
// answer becomes an AccessToken unchecked, so a 200 without access_token gives
// `Bearer undefined` and a token_type of mac is sent as Bearer; no timeout on the token request
// (Wreck's default) nor on fetch.
//
// M2M_ADAPTER_FIX=1: `options: { authorizationMethod: "body", bodyFormat: "json" }` (API.md),
// which sends exactly the partner document's request, plus the check the library leaves to the
// application: a string access_token and token_type Bearer, else the token is refused; and
// `http: { timeout: 10000 }` / AbortSignal.timeout(10000).
import oauth2 from "simple-oauth2";
import { main } from "./protocol.mjs";

main(async (s) => {
  const url = new URL(s.tokenUrl);
  const config = {
    client: { id: s.clientId, secret: s.clientSecret },
    auth: { tokenHost: url.origin, tokenPath: url.pathname },
  };
  if (s.fix) {
    config.options = { authorizationMethod: "body", bodyFormat: "json" };
    config.http = { timeout: 10000 };
  }
  const client = new oauth2.ClientCredentials(config);
  const tokenParams = {};
  if (s.scope) tokenParams.scope = s.scope;
  if (s.audience) tokenParams.audience = s.audience;

  async function getToken() {
    const token = await client.getToken(tokenParams);
    const { access_token, token_type } = token.token;
    if (s.fix && !(typeof access_token === "string" && /^bearer$/i.test(token_type))) {
      throw new Error("the token response has no Bearer access_token");
    }
    return token;
  }

  let accessToken = await getToken();
  return async () => {
    if (accessToken.expired()) accessToken = await getToken();
    const response = await fetch(s.apiUrl, {
      headers: { Authorization: `Bearer ${accessToken.token.access_token}` },
      signal: s.fix ? AbortSignal.timeout(10000) : undefined,
    });
    return response.status;
  };
});
