// A partner client in Node.js 20 (built-in fetch), following the command-client protocol.
// M2M_MUTATION breaks it on purpose for the mutation tests: array-scope, no-cache,
// refresh-grant, token-scheme, bearer-undefined, no-single-flight, follow-redirect,
// no-timeout, no-request. (An insecure variant sets NODE_TLS_REJECT_UNAUTHORIZED=0.)
const env = process.env;
const mutation = env.M2M_MUTATION || "";
const calls = Number(env.M2M_API_CALLS || "1");
const intervalMs = Number(env.M2M_API_INTERVAL_MS || "0");
const concurrency = Math.max(1, Number(env.M2M_API_CONCURRENCY || "1"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The token request must never follow a redirect: its body carries the secret.
const redirect = mutation === "follow-redirect" ? "follow" : "manual";
const timeout = () => (mutation === "no-timeout" ? undefined : AbortSignal.timeout(10000));

let cached = null; // { token, expiresAt }
let inFlight = null; // the one token fetch every concurrent caller waits on
let lastRefresh = null; // a refresh_token the server sent (only the mutant uses it)

async function fetchToken(grant = "client_credentials") {
  const body = {
    client_id: env.M2M_CLIENT_ID,
    client_secret: env.M2M_CLIENT_SECRET,
    grant_type: grant,
  };
  const scope = (env.M2M_SCOPE || "").split(" ").filter(Boolean);
  if (scope.length) body.scope = mutation === "array-scope" ? scope : scope.join(" ");
  if (env.M2M_AUDIENCE) body.audience = env.M2M_AUDIENCE;
  if (grant === "refresh_token") body.refresh_token = lastRefresh;
  for (let attempt = 0; attempt < 4; attempt++) {
    const sent = performance.now();
    const res = await fetch(env.M2M_TOKEN_URL, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      redirect,
      signal: timeout(),
    });
    if (res.status === 429 || res.status >= 500) {
      const retryAfter = Number(res.headers.get("retry-after") || "0");
      await sleep(Math.max(retryAfter * 1000, 300 * 2 ** attempt));
      continue;
    }
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    const ok = res.status === 200 && data && typeof data.access_token === "string" &&
      data.access_token && String(data.token_type).toLowerCase() === "bearer" &&
      Number(data.expires_in) > 0;
    if (!ok) {
      if (mutation === "bearer-undefined") return { token: String(data && data.access_token), expiresAt: 0 };
      throw new Error(`token request failed (HTTP ${res.status})`);
    }
    if (data.refresh_token) lastRefresh = data.refresh_token;
    return { token: data.access_token, expiresAt: sent + Number(data.expires_in) * 1000 - 200 };
  }
  throw new Error("token endpoint kept failing");
}

async function token() {
  const expired = !cached || performance.now() >= cached.expiresAt;
  if (mutation === "no-cache" || expired) {
    const fetching = mutation === "refresh-grant" && lastRefresh
      ? () => fetchToken("refresh_token")
      : () => fetchToken();
    if (mutation === "no-single-flight") {
      cached = await fetching();
    } else {
      inFlight = inFlight || fetching().finally(() => { inFlight = null; });
      cached = await inFlight;
    }
  }
  return cached.token;
}

async function callApi() {
  const scheme = mutation === "token-scheme" ? "Token" : "Bearer";
  return fetch(env.M2M_API_URL, {
    headers: { Authorization: `${scheme} ${await token()}` },
    signal: timeout(),
  });
}

async function oneCall(i) {
  let res = await callApi();
  if (res.status === 401) {
    cached = null;
    res = await callApi();
  }
  if (!res.ok) {
    console.error(`API call ${i + 1} failed: ${res.status}`);
    return false;
  }
  console.log(`API call ${i + 1}: ${res.status}`);
  return true;
}

async function main() {
  if (mutation === "no-request") throw new Error("Cannot find module 'oauth-lib'");
  for (let i = 0; i < calls; i += concurrency) {
    if (i > 0 && intervalMs > 0) await sleep(intervalMs);
    const batch = [];
    for (let j = i; j < Math.min(calls, i + concurrency); j++) batch.push(oneCall(j));
    if (!(await Promise.all(batch)).every(Boolean)) return 1;
  }
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
