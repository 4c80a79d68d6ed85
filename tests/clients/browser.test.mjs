// Headless Chromium (Debian's, driven by puppeteer-core): the GraphiQL IDE
// served from local assets, its failure page, and CORS and the WebSocket
// Origin check from a page on another origin. Screenshots go to
// target/browser/ for the log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { startServer, createEvent, root } from "./server.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
const shots = path.join(root, "target/browser");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

let browser;
before(async () => {
  fs.mkdirSync(shots, { recursive: true });
  browser = await puppeteer.launch({ executablePath, headless: true, args: ["--headless", "--no-sandbox"] });
});
after(async () => browser?.close());

/** A page that records every request it makes and aborts any that would leave this machine. */
async function openPage() {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const requests = [];
  await page.setRequestInterception(true);
  page.on("request", (request) => {
    requests.push(request.url());
    const url = new URL(request.url());
    const local = ["127.0.0.1", "localhost"].includes(url.hostname) || url.protocol === "data:";
    local ? request.continue() : request.abort();
  });
  return { page, requests };
}

const until = async (what, check, ms = 20_000) => {
  const began = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - began > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

test("the IDE loads from local assets only, runs an example tab, and shows a subscription's event after a mutation", async () => {
  const server = await startServer({ args: ["--playground-assets", path.join(here, "node_modules")] });
  try {
    const { page, requests } = await openPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.origin + "/", { waitUntil: "networkidle0" });
    await page.waitForSelector(".graphiql-container", { timeout: 20_000 });
    // Fonts come inlined in GraphiQL's styles (data: URLs); anything on the network must be the server.
    const external = requests.filter((url) => !url.startsWith("data:") && new URL(url).host !== server.address);
    assert.deepEqual(external, [], "no request leaves the server");
    assert.ok(requests.some((url) => url.includes("/playground-assets/graphiql@3.8.3/graphiql.min.js")), requests.join("\n"));

    const tabs = await page.$$eval(".graphiql-tab", (elements) => elements.map((e) => e.textContent.trim()));
    for (const name of ["TreatyInDepth", "ActorEventsParticipants", "RecognitionTimeline", "FundingFromRussia", "SearchTskhinvali", "EventsAsTheyAreAdded"]) {
      assert.ok(tabs.some((t) => t.includes(name)), `a tab titled ${name}: ${JSON.stringify(tabs)}`);
    }
    assert.ok(!tabs.some((t) => t.includes("untitled")), JSON.stringify(tabs));

    // The first tab is open: run it.
    const result = () => page.$eval(".graphiql-response", (e) => e.textContent).catch(() => "");
    await page.click(".graphiql-execute-button");
    await until("the treaty in the result pane", async () => (await result()).includes("Treaty of Friendship, Cooperation and Mutual Assistance"));
    await page.screenshot({ path: path.join(shots, "ide-query.png") });

    // The subscription tab: run it, then add an event through the API.
    const tabButtons = await page.$$(".graphiql-tab-button");
    const titles = await Promise.all(tabButtons.map((b) => b.evaluate((e) => e.textContent)));
    await tabButtons[titles.findIndex((t) => t.includes("EventsAsTheyAreAdded"))].click();
    // As a person would: look at the tab before running it (GraphiQL settles the operation name).
    await until("the subscription in the editor", () =>
      page.$eval(".graphiql-query-editor", (e) => e.textContent.includes("subscription EventsAsTheyAreAdded")),
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await page.click(".graphiql-execute-button");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const id = await createEvent(server, "Seen in the IDE");
    try {
      await until("the new event in the result pane", async () => (await result()).includes("Seen in the IDE"));
    } finally {
      await page.screenshot({ path: path.join(shots, "ide-subscription.png") });
    }
    assert.ok((await result()).includes(id));
    assert.deepEqual(errors, [], "no script error on the page");
    await page.close();
  } finally {
    await server.stop();
  }
});

test("the IDE's assets are only the files the page uses, gzipped", async () => {
  const server = await startServer({ args: ["--playground-assets", path.join(here, "node_modules")] });
  try {
    const js = await fetch(server.origin + "/playground-assets/graphiql@3.8.3/graphiql.min.js", { headers: { "accept-encoding": "gzip" } });
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("content-encoding"), "gzip");
    assert.match(js.headers.get("content-type"), /javascript/);
    const body = Buffer.from(await js.arrayBuffer());
    assert.deepEqual(body, fs.readFileSync(path.join(here, "node_modules/graphiql/graphiql.min.js")), "fetch unzips it to the package's bytes");
    for (const other of ["/playground-assets/graphiql/package.json", "/playground-assets/graphiql@3.8.3/package.json", "/playground-assets/react/umd/react.development.js", "/playground-assets/graphql-ws/package.json", "/playground-assets/../Cargo.toml"]) {
      assert.equal((await fetch(server.origin + other)).status, 404, other);
    }
  } finally {
    await server.stop();
  }
});

test("when the IDE's scripts cannot load, the page says why and how to fix it", async () => {
  // The default CDN; this page may not reach it (every request off this machine is aborted).
  const server = await startServer({ env: { DIPLOGRAPH_PLAYGROUND_ASSETS: "https://unpkg.com" } });
  try {
    const { page } = await openPage();
    await page.goto(server.origin + "/", { waitUntil: "networkidle0" });
    const text = await page.$eval("#ide-status", (e) => e.innerText);
    assert.match(text, /could not load its scripts/);
    assert.match(text, /graphiql 3\.8\.3 \(graphiql\.min\.js\)/);
    assert.match(text, /npm install graphiql@3\.8\.3 react@18\.3\.1 react-dom@18\.3\.1/);
    assert.match(text, /--playground-assets/);
    await page.screenshot({ path: path.join(shots, "ide-offline.png") });
    await page.close();
  } finally {
    await server.stop();
  }
});

test("a mirror that serves other bytes than the pinned releases is refused by the browser, and the page says so", async () => {
  // A mirror on this machine that answers every asset with the wrong file.
  const mirror = await pageServer("/* not the pinned release */", "text/javascript");
  const server = await startServer({ env: { DIPLOGRAPH_PLAYGROUND_ASSETS: `http://127.0.0.1:${mirror.port}` } });
  try {
    const { page } = await openPage();
    await page.goto(server.origin + "/", { waitUntil: "networkidle0" });
    const text = await page.$eval("#ide-status", (e) => e.innerText);
    assert.match(text, /could not load its scripts/);
    assert.match(text, /react 18\.3\.1 \(umd\/react\.production\.min\.js\)/);
    assert.match(text, /integrity hash differs/);
    await page.close();
  } finally {
    await server.stop();
    await mirror.close();
  }
});

/** A server on another origin (another port) answering every path with `body`: by default the page of an app that calls the API. */
async function pageServer(body = "<!doctype html><title>an app on another origin</title><p>app</p>", type = "text/html") {
  const page = http.createServer((_, response) => {
    response.writeHead(200, { "content-type": type, "access-control-allow-origin": "*" });
    response.end(body);
  });
  await new Promise((resolve) => page.listen(0, "127.0.0.1", resolve));
  return {
    port: page.address().port,
    close: () => {
      page.closeAllConnections();
      return new Promise((resolve) => page.close(resolve));
    },
  };
}

/** From a page at `origin`: a POST with the headers client libraries add, and a WebSocket. */
async function fromPage(origin, api) {
  const { page } = await openPage();
  await page.goto(origin, { waitUntil: "load" });
  const outcome = await page.evaluate(async ({ http, ws }) => {
    const outcome = {};
    try {
      const response = await fetch(http, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "apollographql-client-name": "web-app",
          "apollographql-client-version": "1.2.3",
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          tracestate: "vendor=value",
          "sentry-trace": "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
          baggage: "sentry-environment=test",
          "x-request-id": "from-the-browser-1",
        },
        body: JSON.stringify({ query: "{ treaty(id: \"friendship-2008\") { name } }" }),
      });
      const body = await response.json();
      outcome.fetch = { name: body.data.treaty.name, requestId: response.headers.get("x-request-id"), cache: response.headers.get("x-cache") };
    } catch (error) {
      outcome.fetch = String(error);
    }
    try {
      await fetch(http, { method: "POST", headers: { "content-type": "application/json", "x-not-allowed": "1" }, body: "{}" });
      outcome.unlisted = "sent";
    } catch (error) {
      outcome.unlisted = String(error);
    }
    outcome.socket = await new Promise((resolve) => {
      const socket = new WebSocket(ws, "graphql-transport-ws");
      socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init" }));
      socket.onmessage = (message) => { socket.close(); resolve(JSON.parse(message.data).type); };
      socket.onerror = () => resolve("refused");
    });
    return outcome;
  }, api);
  await page.close();
  return outcome;
}

test("a page on an allowed origin may send the common client and tracing headers and open a WebSocket; another origin may not", async () => {
  const app = await pageServer();
  const allowed = `http://127.0.0.1:${app.port}`;
  const server = await startServer({ env: { DIPLOGRAPH_CORS_ORIGINS: allowed } });
  try {
    const api = { http: server.http, ws: server.ws };
    const ok = await fromPage(allowed + "/", api);
    assert.deepEqual(ok.fetch, { name: "Treaty of Friendship, Cooperation and Mutual Assistance", requestId: "from-the-browser-1", cache: "miss" });
    assert.match(ok.unlisted, /Failed to fetch/, "a header not in --cors-allow-headers fails the preflight");
    assert.equal(ok.socket, "connection_ack");
    // The same page under another name is another origin, not listed.
    const other = await fromPage(`http://localhost:${app.port}/`, api);
    assert.match(other.fetch, /Failed to fetch/);
    assert.equal(other.socket, "refused");
    const preflight = await fetch(server.http, {
      method: "OPTIONS",
      headers: { origin: allowed, "access-control-request-method": "POST", "access-control-request-headers": "content-type,traceparent" },
    });
    assert.equal(preflight.headers.get("access-control-max-age"), "3600");
  } finally {
    await server.stop();
    await app.close();
  }
});
