// A partner client in Node.js 20 (built-in fetch), following the command-client protocol.
// M2M_MUTATION breaks it on purpose for the mutation tests:
// array-scope, no-cache, refresh-grant, token-scheme, bearer-undefined.
const env = process.env;
const mutation = env.M2M_MUTATION || "";
const calls = Number(env.M2M_API_CALLS || "1");
const intervalMs = Number(env.M2M_API_INTERVAL_MS || "0");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let cached = null; // { token, expiresAt }
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
      signal: AbortSignal.timeout(10000),
    });
    if (res.status === 429 || res.status >= 500) {
      const retryAfter = Number(res.headers.get("retry-after") || "0");
      await sleep(Math.max(retryAfter * 1000, 200 * 2 ** attempt));
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
    cached = mutation === "refresh-grant" && lastRefresh
      ? await fetchToken("refresh_token")
      : await fetchToken();
  }
  return cached.token;
}

async function callApi() {
  const scheme = mutation === "token-scheme" ? "Token" : "Bearer";
  return fetch(env.M2M_API_URL, {
    headers: { Authorization: `${scheme} ${await token()}` },
    signal: AbortSignal.timeout(10000),
  });
}

async function main() {
  for (let i = 0; i < calls; i++) {
    if (i > 0 && intervalMs > 0) await sleep(intervalMs);
    let res = await callApi();
    if (res.status === 401) {
      cached = null;
      res = await callApi();
    }
    if (!res.ok) {
      console.error(`API call ${i + 1} failed: ${res.status}`);
      return 1;
    }
    console.log(`API call ${i + 1}: ${res.status}`);
  }
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
