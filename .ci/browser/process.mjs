// What the browser tests share: a free port, a clean stop of the server they started, and
// the set-up and way out around their steps.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// freePort asks the kernel for a free loopback port.
export function freePort() {
  return new Promise((resolve, reject) => {
    const l = createServer();
    l.once("error", reject);
    l.listen(0, "127.0.0.1", () => {
      const { port } = l.address();
      l.close(() => resolve(port));
    });
  });
}

// stopServer stops a server process that is still running: SIGTERM, then SIGKILL if it has
// not exited within 40 s (its graceful shutdown drains the audit trail first).
export async function stopServer(server) {
  if (!server || server.exitCode !== null) return;
  server.kill("SIGTERM");
  const exited = await Promise.race([
    new Promise((r) => server.once("exit", () => r(true))),
    new Promise((r) => setTimeout(() => r(false), 40_000)),
  ]);
  if (!exited) server.kill("SIGKILL");
}

// harness sets up what every browser test needs around its steps: a data directory and a
// Chromium profile of its own, a watchdog over the whole test, and one way out on failure
// or interruption that prints the server's output, closes what the test opened (close) and
// removes both directories. cleanup is the same way out on success.
export function harness({ name, prefix, totalMs, log, close }) {
  const dataDir = mkdtempSync(join(tmpdir(), `${prefix}-data-`));
  const profileDir = mkdtempSync(join(tmpdir(), `${prefix}-chromium-`));
  let cleaned = false;
  async function cleanup() {
    if (cleaned) return;
    cleaned = true;
    clearTimeout(watchdog);
    await close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  }
  async function fail(err) {
    console.error(`${name} browser test FAILED:`, err?.stack || err);
    const out = log();
    if (out) console.error("server output:\n" + out.slice(-4000));
    await cleanup();
    process.exit(1);
  }
  const watchdog = setTimeout(() => fail(new Error(`the ${name} browser test took longer than ${totalMs / 1000}s`)), totalMs);
  process.on("SIGINT", () => fail(new Error("interrupted")));
  process.on("SIGTERM", () => fail(new Error("terminated")));
  return { dataDir, profileDir, fail, cleanup };
}
