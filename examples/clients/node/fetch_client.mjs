// Plain Node.js fetch (Node 20): the partner document's JSON token request, hand-written.
//
// Follows the partner document's sample request (JSON client_id, client_secret, grant_type,
// scope POSTed to /oauth/token) as the Fetch API's usual JSON POST:
// `await fetch(url, { method: "POST", headers, body: JSON.stringify(...) })`,
// `if (!response.ok) throw ...`, `(await response.json()).access_token`, then
// `fetch(api, { headers: { Authorization: `Bearer ${token}` } })`. One token, fetched at start
// and shared by every worker.
//
// Shows: fetch's defaults: no timeout at all, redirects followed (a 307 re-sends the JSON body,
// secret included), and nothing but what the application checks: a 200 without access_token
// gives `Bearer undefined`, the token_type is not looked at, the token is never renewed.
//
// M2M_ADAPTER_FIX=1: AbortSignal.timeout(10000), `redirect: "error"` on the token request, a
// check for a string access_token with token_type Bearer, and a new token once expires_in has
// run out (less 1 s).
import { main } from "./protocol.mjs";

main(async (s) => {
  const body = { client_id: s.clientId, client_secret: s.clientSecret, grant_type: "client_credentials" };
  if (s.scope) body.scope = s.scope;
  if (s.audience) body.audience = s.audience;
  const signal = () => (s.fix ? AbortSignal.timeout(10000) : undefined);

  async function getToken() {
    const sent = Date.now();
    const response = await fetch(s.tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      redirect: s.fix ? "error" : "follow",
      signal: signal(),
    });
    if (!response.ok) throw new Error(`token request failed: HTTP ${response.status}`);
    const data = await response.json();
    if (s.fix && !(typeof data.access_token === "string" && /^bearer$/i.test(data.token_type))) {
      throw new Error("the token response has no Bearer access_token");
    }
    return { value: data.access_token, renewAt: sent + (Number(data.expires_in) - 1) * 1000 };
  }

  let token = await getToken();
  return async () => {
    if (s.fix && Date.now() >= token.renewAt) token = await getToken();
    const response = await fetch(s.apiUrl, {
      headers: { Authorization: `Bearer ${token.value}` },
      signal: signal(),
    });
    return response.status;
  };
});
