// The command-client protocol, shared by the Node.js adapters so that each shows only its library.
//
// An adapter reads the M2M_* variables with settings(), configures its library once, and hands
// main() a function that makes one API call through that shared client and resolves to the
// HTTP status. runCalls() makes M2M_API_CALLS calls with at most M2M_API_CONCURRENCY in flight
// (that many async workers over the one configured client, joined with Promise.all) and
// M2M_API_INTERVAL_MS between a worker's calls; the exit status is 0 iff every call got a 2xx.
// Nothing here retries, caches or validates: that is the library's job, or the finding.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function settings() {
  const env = process.env;
  const scopes = (env.M2M_SCOPE || "").split(" ").filter(Boolean);
  return {
    tokenUrl: env.M2M_TOKEN_URL,
    clientId: env.M2M_CLIENT_ID,
    clientSecret: env.M2M_CLIENT_SECRET,
    scopes,
    scope: scopes.join(" "), // "": request no scope
    audience: env.M2M_AUDIENCE || "", // "": send none
    apiUrl: env.M2M_API_URL,
    calls: Number(env.M2M_API_CALLS || "1"),
    intervalMs: Number(env.M2M_API_INTERVAL_MS || "0"),
    concurrency: Math.max(1, Number(env.M2M_API_CONCURRENCY || "1")),
    fix: env.M2M_ADAPTER_FIX === "1", // the adapter's documented fix is applied
  };
}

// Print an error the way an application log would, without the secret or a token.
export function report(what, err) {
  let text = `${what}: ${err && err.name}: ${err && err.message}`;
  const secret = process.env.M2M_CLIENT_SECRET;
  if (secret) text = text.split(secret).join("***");
  console.error(text.replace(/eyJ[\w-]*\.[\w-]+\.[\w-]*/g, "***").slice(0, 300));
}

export async function runCalls(s, call) {
  const statuses = [];
  let next = 0;
  async function worker() {
    for (let first = true; next < s.calls; first = false) {
      const index = next++;
      if (!first && s.intervalMs > 0) await sleep(s.intervalMs);
      let status = 0;
      try {
        status = await call();
      } catch (err) {
        report(`API call ${index + 1}`, err);
      }
      console.log(`API call ${index + 1}: ${status || "error"}`);
      statuses.push(status);
    }
  }
  const workers = Array.from({ length: Math.min(s.concurrency, s.calls) }, worker);
  await Promise.all(workers);
  return statuses.length === s.calls && statuses.every((x) => x >= 200 && x < 300) ? 0 : 1;
}

// Configure the adapter's client (getting its first token if it does so), then call.
export async function main(adapter) {
  const s = settings();
  let call;
  try {
    call = await adapter(s);
  } catch (err) {
    report("token", err);
    process.exit(1);
  }
  process.exit(await runCalls(s, call));
}
