// Starts the real diplograph binary for one test file: a scratch data
// directory, the repository's seed, a free port (the server writes its
// address to a file, as .ci/run's audit does), and a write token. Stopped
// with SIGTERM when the test file is done.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/// The binary under test: DIPLOGRAPH_BIN, or the debug build .ci/run makes.
export const binary = process.env.DIPLOGRAPH_BIN ?? path.join(root, "target/debug/diplograph");

/// A write token for mutations (the server takes tokens of 16 characters or more).
export const token = "clients-suite-write-token-0123456789";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a server with extra `DIPLOGRAPH_*` settings (and command-line
 * arguments) and waits until `/ready` says 200.
 * Returns `{ address, http, ws, stop }`.
 */
export async function startServer({ env = {}, args = [] } = {}) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "diplograph-clients-"));
  const addressFile = path.join(scratch, "address");
  const log = fs.openSync(path.join(scratch, "server.log"), "w");
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DIPLOGRAPH_")));
  const child = spawn(binary, ["serve", ...args], {
    cwd: root,
    env: {
      ...inherited,
      RUST_LOG: "warn",
      DIPLOGRAPH_BIND: "127.0.0.1:0",
      DIPLOGRAPH_ADDRESS_FILE: addressFile,
      DIPLOGRAPH_DATA_DIR: path.join(scratch, "data"),
      DIPLOGRAPH_SEED_DIR: path.join(root, "seed"),
      DIPLOGRAPH_WRITE_TOKENS: token,
      ...env,
    },
    stdio: ["ignore", log, log],
  });
  let exited = null;
  child.on("exit", (code, signal) => (exited = signal ?? code));
  child.on("error", (error) => (exited = error.message));
  const began = Date.now();
  for (;;) {
    if (exited !== null) {
      throw new Error(`${binary} stopped (${exited}) before it was ready:\n${fs.readFileSync(path.join(scratch, "server.log"), "utf8")}`);
    }
    if (Date.now() - began > 60_000) throw new Error(`${binary} was not ready in a minute`);
    const address = fs.existsSync(addressFile) ? fs.readFileSync(addressFile, "utf8").trim() : "";
    if (address) {
      const ready = await fetch(`http://${address}/ready`).then((r) => r.status, () => 0);
      if (ready === 200) {
        return {
          address,
          origin: `http://${address}`,
          http: `http://${address}/graphql`,
          ws: `ws://${address}/graphql`,
          log: () => fs.readFileSync(path.join(scratch, "server.log"), "utf8"),
          async stop() {
            if (exited === null) {
              const done = new Promise((resolve) => child.once("exit", resolve));
              child.kill("SIGTERM");
              await done;
            }
            fs.rmSync(scratch, { recursive: true, force: true });
          },
        };
      }
    }
    await sleep(50);
  }
}

/** A POST to /graphql with fetch, as a plain client sends it. */
export async function post(server, query, variables = {}, headers = {}) {
  const response = await fetch(server.http, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

/** A new event through the API (with the write token); returns its id. */
export async function createEvent(server, title) {
  const answer = await post(
    server,
    `mutation Add($input: CreateEventInput!) { createEvent(input: $input) { event { id title } } }`,
    { input: { title, kind: "STATEMENT", date: "2026-12-07", participants: [{ actor: "actor/russia", role: "SPEAKER" }] } },
    { authorization: `Bearer ${token}` },
  );
  if (answer.errors) throw new Error(`createEvent: ${JSON.stringify(answer.errors)}`);
  return answer.data.createEvent.event.id;
}
