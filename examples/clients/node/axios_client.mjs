// axios 1.21.1: the token request of Auth0's docs, written with axios.
//
// Follows Auth0's "Call Your API Using the Client Credentials Flow" request (a form body with
// grant_type, client_id, client_secret and audience POSTed to https://{yourDomain}/oauth/token),
// here with the scope the partner document adds, in axios' documented form: `axios.request({
// method: "POST", url, headers: { "content-type": "application/x-www-form-urlencoded" }, data:
// new URLSearchParams(...) })`, then `response.data.access_token` as `Authorization: Bearer ...`
// on `axios.get(api)`. One token, fetched at start and shared by every worker.
//
// Shows: axios' defaults: `timeout: 0` (none), redirects followed by follow-redirects (a 307
// re-sends the body, secret included), any 2xx accepted, so a 200 without access_token gives
// `Bearer undefined` and a token_type of mac is sent as Bearer; the token is never renewed.
//
// M2M_ADAPTER_FIX=1: `timeout: 10000`, `maxRedirects: 0`, a check for a string access_token with
// token_type Bearer, and a new token once expires_in has run out (less 1 s).
import axios from "axios";
import { main } from "./protocol.mjs";

main(async (s) => {
  const data = { grant_type: "client_credentials", client_id: s.clientId, client_secret: s.clientSecret };
  if (s.scope) data.scope = s.scope;
  if (s.audience) data.audience = s.audience;
  const http = axios.create(s.fix ? { timeout: 10000, maxRedirects: 0 } : {});

  async function getToken() {
    const sent = Date.now();
    const response = await http.request({
      method: "POST",
      url: s.tokenUrl,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      data: new URLSearchParams(data),
    });
    const { access_token, token_type, expires_in } = response.data;
    if (s.fix && !(typeof access_token === "string" && /^bearer$/i.test(token_type))) {
      throw new Error("the token response has no Bearer access_token");
    }
    return { value: access_token, renewAt: sent + (Number(expires_in) - 1) * 1000 };
  }

  let token = await getToken();
  return async () => {
    if (s.fix && Date.now() >= token.renewAt) token = await getToken();
    const response = await http.get(s.apiUrl, {
      headers: { Authorization: `Bearer ${token.value}` },
      validateStatus: () => true,
    });
    return response.status;
  };
});
