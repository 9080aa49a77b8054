// Drives the reports page at /reports in Debian's Chromium, as a quality team would. It starts
// the server binary with --demo on a fresh data directory, opens /reports, pastes the token the
// start banner prints, picks the LUP questionnaire, a period and Danish, and shows the report:
// the page must render the report with its charts (checked on a screenshot: the charts' colours
// are there), keep the token out of every URL and in sessionStorage only, fetch nothing from
// another origin, and download the CSV with the report's exact columns. It always stops the
// server.
//
// Usage: node reports.test.mjs SERVER_BINARY SCREENSHOT_DIR
// Environment: CHROMIUM (default /usr/bin/chromium).
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { freePort, harness, stopServer } from "./process.mjs";

const [binary, shotDir] = process.argv.slice(2);
if (!binary || !shotDir) {
  console.error("usage: node reports.test.mjs SERVER_BINARY SCREENSHOT_DIR");
  process.exit(2);
}
const STEP_MS = 60_000;
const TOTAL_MS = 5 * 60_000;
const CSV_HEADER = "questionnaire,version,period_start,period_end,stratum,linkId,answer,count,n,percent,mean,suppressed";

let server;
let serverLog = "";
let browser;
const { dataDir, profileDir, fail, cleanup } = harness({
  name: "reports",
  prefix: "fhir-reports",
  totalMs: TOTAL_MS,
  log: () => serverLog,
  close: async () => {
    if (browser) await browser.close().catch(() => {});
    await stopServer(server);
  },
});

async function startServer() {
  const port = await freePort();
  const env = { ...process.env, FHIR_DATA_DIR: dataDir, FHIR_LOG_LEVEL: "warn", FHIR_ADDR: `127.0.0.1:${port}` };
  for (const k of Object.keys(env)) {
    if (/^FHIR_(AUTH|JWT_|JWKS_|BASE_URL)/.test(k)) delete env[k];
  }
  server = spawn(binary, ["--demo"], { env, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  server.once("exit", (code) => (serverLog += `\n[server exited: ${code}]`));
  return `http://127.0.0.1:${port}`;
}

// banner waits for the start banner: the reports page it points at and the dev token.
async function banner() {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const page = serverLog.match(/open (http:\/\/\S+\/reports) and paste the token/);
    const token = serverLog.match(/export TOKEN=(\S+)/);
    if (page && token) return { reportsURL: page[1], token: token[1] };
    if (server.exitCode !== null || Date.now() > deadline) throw new Error("the --demo banner did not point at /reports with a token");
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function main() {
  const origin = await startServer();
  const { reportsURL, token } = await banner();
  if (!reportsURL.startsWith(origin.replace("127.0.0.1", "localhost")) && !reportsURL.startsWith(origin)) {
    throw new Error(`the banner points at ${reportsURL}, not at ${origin}/reports`);
  }
  console.log(`the --demo banner points at ${reportsURL}`);

  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 60_000,
    viewport: { width: 1100, height: 1400 },
    acceptDownloads: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  const page = browser.pages()[0] || (await browser.newPage());
  page.setDefaultTimeout(STEP_MS);
  const requests = [];
  page.on("request", (req) => requests.push(req.url()));
  const pageErrors = [];
  page.on("pageerror", (err) => pageErrors.push(String(err)));

  await page.goto(origin + "/reports", { waitUntil: "load" });
  await page.fill("#token", token);
  await page.dispatchEvent("#token", "change");
  await page.waitForFunction(() => document.querySelectorAll("#questionnaire option").length > 1, null, { timeout: STEP_MS });
  await page.selectOption("#questionnaire", "https://fhir.patient-involvement.example/Questionnaire/lup-outpatient|2.0");
  await page.fill("#start", "2026-03-01");
  await page.fill("#end", "2026-12-01");
  await page.selectOption("#lang", "da");
  await page.click("#show");
  const frame = page.frameLocator("#report");
  await frame.locator("section.item svg").first().waitFor({ timeout: STEP_MS });
  const heading = (await frame.locator("h1").innerText()).trim();
  if (!heading.includes("Din oplevelse")) throw new Error(`the report's title is ${JSON.stringify(heading)}, not the Danish one`);
  const charts = await frame.locator("section.item .chart svg").count();
  if (charts < 5) throw new Error(`the report shows ${charts} charts`);
  const units = await frame.locator("table.overview tbody tr").count();
  if (units < 4) throw new Error(`the report lists ${units} strata`);
  console.log(`report rendered: ${heading}, ${charts} charts, ${units} strata`);

  // The screenshot shows the charts: count the pixels of the palette's greens and reds in
  // the first chart, drawn by the browser from the screenshot itself.
  const chart = frame.locator('section.item[data-link-id="overall.1"] .chart');
  await chart.scrollIntoViewIfNeeded();
  const shot = await chart.screenshot();
  writeFileSync(join(shotDir, "reports-chart.png"), shot);
  await page.screenshot({ path: join(shotDir, "reports-page.png"), fullPage: false });
  const colours = await page.evaluate(async (b64) => {
    const img = new Image();
    img.src = "data:image/png;base64," + b64;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let coloured = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, gr, b] = [d[i], d[i + 1], d[i + 2]];
      if (Math.max(r, gr, b) - Math.min(r, gr, b) > 60) coloured++; // not white, grey or black
    }
    return { coloured, total: d.length / 4 };
  }, shot.toString("base64"));
  if (colours.coloured < colours.total * 0.05) {
    throw new Error(`the chart's screenshot has ${colours.coloured} coloured pixels of ${colours.total}: no bars`);
  }
  console.log(`chart screenshot: ${colours.coloured} of ${colours.total} pixels are bar colours`);

  // The CSV download.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  const csv = readFileSync(await download.path(), "utf8");
  if (csv.split("\n")[0] !== CSV_HEADER) throw new Error(`the CSV starts ${JSON.stringify(csv.split("\n")[0])}`);
  if (!/,all,overall\.1,,/.test(csv)) throw new Error("the CSV has no overall row for overall.1");
  console.log(`CSV downloaded: ${csv.split("\n").length - 2} rows`);

  const stored = await page.evaluate(() => sessionStorage.getItem("fhir-reports-token"));
  if (stored !== token) throw new Error("the token is not kept in sessionStorage");
  const leaked = requests.filter((u) => u.includes(token));
  if (leaked.length) throw new Error(`the token is in a URL: ${leaked[0].slice(0, 120)}`);
  const offOrigin = requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:") && !u.startsWith("blob:") && !u.startsWith("about:"));
  if (offOrigin.length) throw new Error(`the page fetched from another origin: ${offOrigin.join(", ")}`);
  if (pageErrors.length) throw new Error(`script errors: ${pageErrors.join("; ")}`);
  console.log("token only in sessionStorage, nothing fetched from another origin");
  await cleanup();
  console.log("reports browser test passed");
}

main().catch(fail);
