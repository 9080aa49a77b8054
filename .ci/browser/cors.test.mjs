// A browser app on another origin, as regional patient apps are: it starts the server binary
// in dev mode with FHIR_CORS_ORIGINS naming one app origin, serves a page from that origin
// (another loopback port, addressed as localhost while the API is 127.0.0.1) and, in Debian's
// Chromium, creates, reads (plainly and conditionally) and searches with a bearer token
// through fetch, reading the headers the server exposes. The same calls from a page of an
// origin that is not allowed are refused by the browser. It always stops the server.
//
// Usage: node cors.test.mjs SERVER_BINARY
// Environment: CHROMIUM (default /usr/bin/chromium).
import { execFileSync, spawn } from "node:child_process";
import { createServer as createHTTPServer } from "node:http";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { freePort, harness, stopServer } from "./process.mjs";

const [binary] = process.argv.slice(2);
if (!binary) {
  console.error("usage: node cors.test.mjs SERVER_BINARY");
  process.exit(2);
}
const STEP_MS = 30_000;
const TOTAL_MS = 5 * 60_000;

let server;
let serverLog = "";
let browser;
const pages = [];
const { dataDir, profileDir, fail, cleanup } = harness({
  name: "CORS",
  prefix: "fhir-cors",
  totalMs: TOTAL_MS,
  log: () => serverLog,
  close: async () => {
    if (browser) await browser.close().catch(() => {});
  for (const p of pages) p.close();
    await stopServer(server);
  },
});

// serverEnv is the environment of the server and of the token command: the data directory,
// the allowed app origin, and nothing that would change the auth mode or the base URL.
function serverEnv(extra) {
  const env = { ...process.env, FHIR_DATA_DIR: dataDir, FHIR_LOG_LEVEL: "warn", ...extra };
  for (const k of Object.keys(env)) {
    if (/^FHIR_(AUTH|JWT_|JWKS_|BASE_URL|ALLOWED_HOSTS|TRUSTED_PROXIES)/.test(k)) delete env[k];
  }
  return env;
}

// appPage serves one HTML page, the app, on a loopback port.
async function appPage() {
  const port = await freePort();
  const srv = createHTTPServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><html><head><title>patient app</title></head><body>app</body></html>");
  });
  await new Promise((r) => srv.listen(port, "127.0.0.1", r));
  pages.push(srv);
  return `http://localhost:${port}`;
}

async function waitReady(origin) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const r = await fetch(origin + "/readyz", { signal: AbortSignal.timeout(5_000) });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (server.exitCode !== null || Date.now() > deadline) throw new Error("/readyz did not answer 200 within 120s");
    await new Promise((r) => setTimeout(r, 500));
  }
}

// The calls the app makes, run in the page: each returns what JavaScript can see of the answer.
async function appCalls({ api, token }) {
  const auth = { Authorization: `Bearer ${token}` };
  const out = {};
  const qr = {
    resourceType: "QuestionnaireResponse",
    status: "completed",
    questionnaire: "https://fhir.patient-involvement.example/Questionnaire/recommend-nps|1.0",
    subject: { reference: "Patient/pat-anna-jensen" },
    item: [{ linkId: "nps", answer: [{ valueInteger: 9 }] }],
  };
  try {
    const created = await fetch(`${api}/fhir/QuestionnaireResponse`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/fhir+json", "X-Request-Id": "cors-create-1" },
      body: JSON.stringify(qr),
    });
    const body = await created.json();
    out.create = {
      status: created.status,
      id: body.id,
      location: created.headers.get("location"),
      etag: created.headers.get("etag"),
      requestId: created.headers.get("x-request-id"),
    };
    const read = await fetch(`${api}/fhir/QuestionnaireResponse/${body.id}`, { headers: auth, cache: "no-store" });
    out.read = { status: read.status, etag: read.headers.get("etag"), lastModified: read.headers.get("last-modified"), id: (await read.json()).id };
    const again = await fetch(`${api}/fhir/QuestionnaireResponse/${body.id}`, {
      headers: { ...auth, "If-None-Match": out.read.etag },
      cache: "no-store",
    });
    out.conditionalRead = { status: again.status };
    const search = await fetch(`${api}/fhir/QuestionnaireResponse?_id=${body.id}`, { headers: auth, cache: "no-store" });
    const bundle = await search.json();
    out.search = { status: search.status, type: bundle.type, ids: (bundle.entry || []).map((e) => e.resource.id) };
    const patched = await fetch(`${api}/fhir/QuestionnaireResponse/${body.id}`, {
      method: "PATCH",
      headers: { ...auth, "Content-Type": "application/json-patch+json", "If-Match": 'W/"1"' },
      body: JSON.stringify([{ op: "replace", path: "/status", value: "amended" }]),
    });
    out.patch = { status: patched.status, etag: patched.headers.get("etag") };
    const tx = await fetch(`${api}/fhir`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/fhir+json", Prefer: "return=minimal" },
      body: JSON.stringify({ resourceType: "Bundle", type: "transaction", entry: [
        { fullUrl: "urn:uuid:7c0b1f2e-3d4a-4b5c-8d6e-9f0a1b2c3d4e", resource: qr, request: { method: "POST", url: "QuestionnaireResponse" } },
      ] }),
    });
    const txb = await tx.json();
    out.transaction = { status: tx.status, type: txb.type, entries: (txb.entry || []).map((e) => e.response.status) };
    const refused = await fetch(`${api}/fhir/QuestionnaireResponse`, { cache: "no-store" });
    out.noToken = { status: refused.status };
  } catch (e) {
    out.error = String(e);
  }
  return out;
}

async function main() {
  const apiPort = await freePort();
  const app = await appPage();
  const other = await appPage();
  const api = `http://127.0.0.1:${apiPort}`;
  server = spawn(binary, [], {
    env: serverEnv({ FHIR_ADDR: `127.0.0.1:${apiPort}`, FHIR_CORS_ORIGINS: app }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  server.once("exit", (code) => (serverLog += `\n[server exited: ${code}]`));
  await waitReady(api);
  const token = execFileSync(binary, ["token", "--scope", "system/*.*", "--data-dir", dataDir], {
    env: serverEnv({}),
    encoding: "utf8",
    timeout: STEP_MS,
  }).trim();
  console.log(`server ready at ${api}; app at ${app}, another origin at ${other}`);

  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 60_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  const page = browser.pages()[0] || (await browser.newPage());
  page.setDefaultTimeout(STEP_MS);

  await page.goto(app + "/", { waitUntil: "load", timeout: STEP_MS });
  const got = await page.evaluate(appCalls, { api, token });
  if (got.error) throw new Error(`the app's calls failed in the browser: ${got.error}`);
  const c = got.create;
  if (c.status !== 201 || !c.location?.startsWith(`${api}/fhir/QuestionnaireResponse/${c.id}/_history/1`) || c.etag !== 'W/"1"' || c.requestId !== "cors-create-1") {
    throw new Error(`create from ${app}: ${JSON.stringify(c)}`);
  }
  if (got.read.status !== 200 || got.read.id !== c.id || got.read.etag !== 'W/"1"' || !got.read.lastModified) {
    throw new Error(`read from ${app}: ${JSON.stringify(got.read)}`);
  }
  if (got.conditionalRead.status !== 304) throw new Error(`conditional read from ${app}: ${JSON.stringify(got.conditionalRead)}`);
  if (got.search.status !== 200 || got.search.type !== "searchset" || got.search.ids.join() !== c.id) {
    throw new Error(`search from ${app}: ${JSON.stringify(got.search)}`);
  }
  if (got.patch.status !== 200 || got.patch.etag !== 'W/"2"') throw new Error(`patch from ${app}: ${JSON.stringify(got.patch)}`);
  if (got.transaction.status !== 200 || got.transaction.type !== "transaction-response" || got.transaction.entries.join() !== "201 Created") {
    throw new Error(`transaction from ${app}: ${JSON.stringify(got.transaction)}`);
  }
  if (got.noToken.status !== 401) throw new Error(`without a token from ${app}: ${JSON.stringify(got.noToken)}`);
  console.log(`from ${app}: create 201 (Location, ETag and X-Request-Id readable), read 200, conditional read 304, search 200, patch 200, transaction 200, no token 401`);

  await page.goto(other + "/", { waitUntil: "load", timeout: STEP_MS });
  const refused = await page.evaluate(appCalls, { api, token });
  if (!refused.error || !/Failed to fetch/i.test(refused.error) || refused.create) {
    throw new Error(`from ${other}, which is not allowed, the browser let the app call: ${JSON.stringify(refused)}`);
  }
  console.log(`from ${other}: refused by the browser (${refused.error})`);
}

try {
  await main();
  await cleanup();
  console.log("CORS browser test passed");
  process.exit(0);
} catch (err) {
  await fail(err);
}
