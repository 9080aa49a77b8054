// Drives Swagger UI at /docs in Debian's Chromium, as a developer would. It starts the server
// binary in its default auth mode (dev) on a fresh data directory, mints a token with the
// binary's `token` command on that directory, checks that the server refuses requests without
// a token (401) and that the token of its startup banner works, then authorizes with the token
// in Swagger UI and presses "Try it out" → "Execute" on GET /fhir/metadata and on a search, a
// read and the history of QuestionnaireResponses: each must render a 200 and carry the token;
// and on create, which must create (201). The Authorize dialog must show its text as written.
// It always stops the server.
//
// Usage: node docs.test.mjs SERVER_BINARY FIXTURE_JSON SCREENSHOT_DIR
// Environment: CHROMIUM (default /usr/bin/chromium).
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { freePort, harness, stopServer } from "./process.mjs";

const [binary, fixturePath, shotDir] = process.argv.slice(2);
if (!binary || !fixturePath || !shotDir) {
  console.error("usage: node docs.test.mjs SERVER_BINARY FIXTURE_JSON SCREENSHOT_DIR");
  process.exit(2);
}
const STEP_MS = 30_000; // any single wait in the page
const TOTAL_MS = 5 * 60_000; // the whole test

let server;
let serverLog = "";
let browser;
const { dataDir, profileDir, fail, cleanup } = harness({
  name: "docs",
  prefix: "fhir-docs",
  totalMs: TOTAL_MS,
  log: () => serverLog,
  close: async () => {
    if (browser) await browser.close().catch(() => {});
    await stopServer(server);
  },
});

// serverEnv is the environment of the server and of the token command: the data directory
// and nothing that would change the auth mode, its issuer or its audience.
function serverEnv(extra) {
  const env = { ...process.env, FHIR_DATA_DIR: dataDir, FHIR_LOG_LEVEL: "warn", ...extra };
  for (const k of Object.keys(env)) {
    if (/^FHIR_(AUTH|JWT_|JWKS_|BASE_URL)/.test(k)) delete env[k];
  }
  return env;
}

// startServer runs the binary on a free loopback port with a fresh data directory and
// returns its origin; its output is kept to show when it fails.
async function startServer() {
  const port = await freePort();
  server = spawn(binary, [], {
    env: serverEnv({ FHIR_ADDR: `127.0.0.1:${port}` }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  server.once("exit", (code) => (serverLog += `\n[server exited: ${code}]`));
  return `http://127.0.0.1:${port}`;
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
    if (server.exitCode !== null || Date.now() > deadline) {
      throw new Error(`/readyz did not answer 200 within 120s; server output:\n${serverLog}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

// mintToken runs `fhir-server token` on the server's data directory.
function mintToken(scope) {
  const out = execFileSync(binary, ["token", "--scope", scope, "--data-dir", dataDir], {
    env: serverEnv({}),
    encoding: "utf8",
    timeout: STEP_MS,
  });
  const token = out.trim();
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new Error(`fhir-server token printed ${JSON.stringify(out)}, not a JWT`);
  return token;
}

// bannerToken waits for the token the server prints at startup in dev mode.
async function bannerToken() {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const m = serverLog.match(/export TOKEN=(\S+)/);
    if (m) return m[1];
    if (Date.now() > deadline) throw new Error(`the server printed no dev token banner:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// get fetches a FHIR URL with the token (none when token is "").
function get(url, token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  return fetch(url, { headers, signal: AbortSignal.timeout(STEP_MS) });
}

// executeOperation expands an operation, presses "Try it out" and "Execute", and returns the
// status code Swagger UI renders and the curl command it shows.
async function executeOperation(page, tag, operationId) {
  const op = page.locator(`#operations-${tag}-${operationId}`);
  await op.scrollIntoViewIfNeeded({ timeout: STEP_MS });
  if (!(await op.locator(".opblock-body").count())) {
    await op.locator(".opblock-summary").first().click({ timeout: STEP_MS });
  }
  await op.locator("button.try-out__btn").click({ timeout: STEP_MS });
  await op.locator("button.execute").click({ timeout: STEP_MS });
  const status = op.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor({ timeout: STEP_MS });
  const curl = await op.locator(".curl-command").first().innerText({ timeout: STEP_MS });
  return { status: (await status.innerText()).trim(), curl };
}

async function main() {
  const origin = await startServer();
  await waitReady(origin);
  console.log(`server ready at ${origin}`);

  // Dev mode: /fhir refuses a request without a token, the banner's token and one from
  // `fhir-server token` both work.
  const refused = await get(`${origin}/fhir/QuestionnaireResponse`, "");
  if (refused.status !== 401 || refused.headers.get("www-authenticate") !== "Bearer") {
    throw new Error(`without a token: ${refused.status}, WWW-Authenticate ${refused.headers.get("www-authenticate")}; want 401, Bearer`);
  }
  const banner = await bannerToken();
  const fromBanner = await get(`${origin}/fhir/QuestionnaireResponse`, banner);
  if (fromBanner.status !== 200) throw new Error(`with the banner's token: ${fromBanner.status} ${await fromBanner.text()}`);
  const TOKEN = mintToken("system/*.*");
  console.log("dev mode: 401 without a token; the banner's token and a minted one work");

  // The read example in the description names the fixture's id: store that fixture first.
  const fixture = JSON.parse(readFileSync(fixturePath, "utf8"));
  const put = await fetch(`${origin}/fhir/${fixture.resourceType}/${fixture.id}`, {
    method: "PUT",
    headers: { "Content-Type": "application/fhir+json", Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(fixture),
    signal: AbortSignal.timeout(STEP_MS),
  });
  if (put.status !== 201 && put.status !== 200) throw new Error(`storing the fixture: ${put.status} ${await put.text()}`);

  // A fresh profile directory (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 60_000,
    viewport: { width: 1280, height: 1100 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  const page = browser.pages()[0] || (await browser.newPage());
  page.setDefaultTimeout(STEP_MS);
  const offOrigin = [];
  page.on("request", (req) => {
    if (!req.url().startsWith(origin) && !req.url().startsWith("data:")) offOrigin.push(req.url());
  });
  const consoleErrors = [];
  page.on("pageerror", (err) => consoleErrors.push(String(err)));

  await page.goto(origin + "/docs", { waitUntil: "load", timeout: STEP_MS });
  await page.locator(".information-container .title").waitFor({ timeout: STEP_MS });
  const title = (await page.locator(".information-container .title").innerText()).trim();
  if (!title.includes("FHIR")) throw new Error(`unexpected title ${JSON.stringify(title)}`);
  console.log(`Swagger UI rendered: ${title.split("\n")[0]}`);

  // The page's origin is refused without a token too.
  const inPage = await page.evaluate(async () => {
    const r = await fetch("/fhir/QuestionnaireResponse");
    return { status: r.status, challenge: r.headers.get("www-authenticate"), body: await r.text() };
  });
  if (inPage.status !== 401 || !inPage.body.includes('"code":"login"')) {
    throw new Error(`fetch without a token in the page: ${inPage.status} ${inPage.body}`);
  }
  console.log(`fetch without a token in the page: 401 (WWW-Authenticate: ${inPage.challenge})`);

  // Authorize with the minted token. The dialog's text renders as written: Markdown must not
  // take <token> for a tag nor *.* for emphasis.
  await page.locator(".auth-wrapper button.authorize").click();
  const modal = page.locator(".modal-ux");
  const dialogText = await modal.locator(".auth-container").first().innerText({ timeout: STEP_MS });
  for (const want of ["Authorization: Bearer <token>", "system/*.*", 'patient/*.cruds']) {
    if (!dialogText.includes(want)) throw new Error(`the Authorize dialog does not show ${JSON.stringify(want)}:\n${dialogText}`);
  }
  console.log("the Authorize dialog shows Bearer <token> and system/*.* as written");
  await modal.locator("input").first().fill(TOKEN);
  await modal.locator("button.authorize").first().click();
  await modal.locator("button.btn-done, button.close-modal").first().click();
  console.log("authorized with a bearer token");

  // Metadata needs no token, so Swagger UI sends none; every other /fhir operation carries it.
  const checks = [
    ["Server", "capabilities", "GET /fhir/metadata", false],
    ["QuestionnaireResponse", "searchTypeQuestionnaireResponse", "GET /fhir/QuestionnaireResponse", true],
    ["QuestionnaireResponse", "readQuestionnaireResponse", `GET /fhir/QuestionnaireResponse/${fixture.id}`, true],
    ["QuestionnaireResponse", "historyInstanceQuestionnaireResponse", `GET /fhir/QuestionnaireResponse/${fixture.id}/_history`, true],
  ];
  for (const [tag, id, what, secured] of checks) {
    const { status, curl } = await executeOperation(page, tag, id);
    if (status !== "200") throw new Error(`${what}: Swagger UI shows status ${status}, want 200`);
    if (curl.includes(`Authorization: Bearer ${TOKEN}`) !== secured) {
      throw new Error(`${what}: the request ${secured ? "did not carry" : "carried"} the token:\n${curl}`);
    }
    console.log(`${what}: 200 rendered, ${secured ? "token sent" : "no token needed"}`);
  }
  // Try it out on create creates: If-None-Exist is described but left empty, so the request
  // is a plain create of the example body.
  const create = page.locator("#operations-QuestionnaireResponse-createQuestionnaireResponse");
  await create.scrollIntoViewIfNeeded({ timeout: STEP_MS });
  await create.locator(".opblock-summary").first().click({ timeout: STEP_MS });
  await create.locator("button.try-out__btn").click({ timeout: STEP_MS });
  const ifNoneExist = await create.locator('tr[data-param-name="If-None-Exist"] input').first().inputValue({ timeout: STEP_MS });
  if (ifNoneExist !== "") throw new Error(`Try it out fills If-None-Exist with ${JSON.stringify(ifNoneExist)}`);
  await create.locator("button.execute").click({ timeout: STEP_MS });
  const createStatus = create.locator(".live-responses-table tbody .response-col_status").first();
  await createStatus.waitFor({ timeout: STEP_MS });
  const createCurl = await create.locator(".curl-command").first().innerText({ timeout: STEP_MS });
  if ((await createStatus.innerText()).trim() !== "201" || createCurl.includes("If-None-Exist")) {
    throw new Error(`Try it out on create: status ${(await createStatus.innerText()).trim()}, want 201 without If-None-Exist:\n${createCurl}`);
  }
  console.log("POST /fhir/QuestionnaireResponse: Try it out creates (201), If-None-Exist left empty");

  const shown = (id) =>
    page.locator(`#operations-QuestionnaireResponse-${id} .live-responses-table tbody .response-col_description`).first().innerText();
  const searchBody = await shown("searchTypeQuestionnaireResponse");
  if (!searchBody.includes("searchset") || !searchBody.includes(fixture.id)) {
    throw new Error("the search response shown is not a searchset holding the stored resource");
  }
  if (!(await shown("readQuestionnaireResponse")).includes(fixture.id)) {
    throw new Error("the read response body shown does not contain the resource id");
  }

  if (offOrigin.length) throw new Error(`the page fetched from elsewhere than the server: ${offOrigin.join(", ")}`);
  if (consoleErrors.length) throw new Error(`the page threw: ${consoleErrors.join("; ")}`);

  // Show the rendered 200 of the history call: the status, the body and the headers.
  await page
    .locator("#operations-QuestionnaireResponse-historyInstanceQuestionnaireResponse .live-responses-table")
    .first()
    .evaluate((el) => el.scrollIntoView({ block: "start" }));
  await page.evaluate(() => window.scrollBy(0, -120));
  const shot = join(shotDir, "swagger-ui.png");
  await page.screenshot({ path: shot, fullPage: false, timeout: STEP_MS });
  const size = statSync(shot).size;
  if (size < 10_000) throw new Error(`the screenshot ${shot} is suspiciously small (${size} bytes)`);
  console.log(`screenshot: ${shot} (${size} bytes)`);
}

try {
  await main();
  await cleanup();
  console.log("docs browser test passed");
  process.exit(0);
} catch (err) {
  await fail(err);
}
