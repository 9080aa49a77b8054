// What the browser tests share: a free port and a clean stop of the server they started.
import { createServer } from "node:net";

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
