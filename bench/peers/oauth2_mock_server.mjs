// Start oauth2-mock-server (the npm peer of the m2m-contract emulator) for bench/emulator_http.py.
//
// Usage: node bench/peers/oauth2_mock_server.mjs PORT
//   (NODE_PATH is not used: the package is resolved from bench/.peers/node_modules, where
//   bench/setup_peers.sh installs it.)
//
// Listens on 127.0.0.1:PORT with one fresh RS256 key. `POST /token` accepts a JSON body
// (the server installs express.json() globally, plus urlencoded on /token), so the benchmark
// sends both servers the same body:
//   {"client_id":"demo-client","client_secret":"demo-secret",
//    "grant_type":"client_credentials","scope":"read:members"}
// and gets 200 with an RS256-signed JWT. Prints "oauth2-mock-server listening on URL" once
// ready; exits cleanly on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const peersDir = join(here, '..', '.peers');
const require = createRequire(join(peersDir, 'package.json'));

let entry;
try {
  entry = require.resolve('oauth2-mock-server');
} catch {
  console.error('oauth2-mock-server is not installed: run `bash bench/setup_peers.sh` first');
  process.exit(2);
}
const { OAuth2Server } = await import(pathToFileURL(entry).href);
const pkgJson = join(peersDir, 'node_modules', 'oauth2-mock-server', 'package.json');
const { version } = JSON.parse(readFileSync(pkgJson, 'utf8'));

const port = Number.parseInt(process.argv[2] ?? '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node oauth2_mock_server.mjs PORT');
  process.exit(2);
}
const host = '127.0.0.1';

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(port, host);
console.log(`oauth2-mock-server ${version} listening on http://${host}:${port}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  try {
    await server.stop();
  } finally {
    process.exit(0);
  }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
