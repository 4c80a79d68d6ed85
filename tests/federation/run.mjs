// The federation test (run by .ci/run): diplograph's real binary and the
// watchlist subgraph (watchlist.mjs) composed by @apollo/gateway with
// IntrospectAndCompose against their local URLs. It checks a query that
// crosses both subgraphs, a 200-actor `_entities` batch whose store reads
// are bounded and whose repeat a compiled plan answers (both read from
// diplograph's /metrics), and errors from either subgraph through the
// gateway. It also keeps supergraph.graphql, the composed schema the
// docker-compose `federation` profile's Apollo Router loads, up to date.
// Any failed check exits non-zero.
import { spawn, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { ownData, startWatchlist, typeDefs } from "./watchlist.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "../..");
const binary = process.env.DIPLOGRAPH_BIN ?? join(root, "target/debug/diplograph");
const scratch = mkdtempSync(join(tmpdir(), "diplograph-federation-"));

/** Entities generated beside the real seed: 300 of them actors, `actor/g0` … `actor/g299`. */
const GENERATED_ENTITIES = 1500;
const GENERATED_ACTORS = 300;
/** The size of the `_entities` batch checked. */
const BATCH = 200;
/** Most store reads diplograph may make for that batch (one read loads the whole batch). */
const MAX_BATCH_READS = 2;

const stops = [];
let failed = 0;

async function check(name, run) {
  try {
    await run();
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}\n${error.stack ?? error}`);
  }
}

/** The real seed plus a generated graph (ids `kind/gN`), as topic files of the same kinds. */
function seedDirectory() {
  const seed = join(scratch, "seed");
  const generated = join(scratch, "generated");
  mkdirSync(seed);
  for (const file of readdirSync(join(root, "seed")).filter((f) => f.endsWith(".json"))) {
    copyFileSync(join(root, "seed", file), join(seed, file));
  }
  execFileSync(binary, ["generate", "--entities", String(GENERATED_ENTITIES), "--out", generated], { stdio: "ignore" });
  for (const file of readdirSync(generated)) {
    copyFileSync(join(generated, file), join(seed, file.replace(".json", "-generated.json")));
  }
  return seed;
}

/** Names of every actor in a seed directory, by id. */
function actorNames(seed) {
  const names = new Map();
  for (const file of readdirSync(seed).filter((f) => f.startsWith("actors"))) {
    for (const actor of JSON.parse(readFileSync(join(seed, file), "utf8"))) names.set(actor.id, actor.name);
  }
  return names;
}

/** Starts the real binary on port 0 and waits until /ready says 200; resolves to its base URL. */
async function startDiplograph(seed) {
  const addressFile = join(scratch, "address");
  const child = spawn(binary, ["serve"], {
    env: {
      ...process.env,
      DIPLOGRAPH_DATA_DIR: join(scratch, "data"),
      DIPLOGRAPH_SEED_DIR: seed,
      DIPLOGRAPH_BIND: "127.0.0.1:0",
      DIPLOGRAPH_ADDRESS_FILE: addressFile,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (chunk) => {
    log = (log + chunk).slice(-20_000);
  });
  stops.push(async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  });
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`diplograph exited (${child.exitCode}):\n${log}`);
    try {
      const address = readFileSync(addressFile, "utf8").trim();
      if (address && (await fetch(`http://${address}/ready`)).status === 200) return `http://${address}`;
    } catch {
      // Not listening or not seeded yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`diplograph did not become ready:\n${log}`);
}

/** diplograph's counters: store reads, and answers from compiled plans (every operation). */
async function counters(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const sum = (name) =>
    text
      .split("\n")
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  return { reads: sum("diplograph_store_reads_total"), planned: sum("diplograph_compiled_answers_total") };
}

/** Keeps supergraph.graphql equal to the composition for the docker-compose services; false if it was rewritten. */
function keepSupergraph(diplographSdl) {
  const composed = composeServices([
    { name: "diplograph", url: "http://diplograph:8000/graphql", typeDefs: parse(diplographSdl) },
    { name: "watchlist", url: "http://watchlist:4001/", typeDefs },
  ]);
  assert.deepEqual(composed.errors ?? [], [], "the subgraphs compose");
  const path = join(here, "supergraph.graphql");
  let onDisk = "";
  try {
    onDisk = readFileSync(path, "utf8");
  } catch {
    // Not written yet.
  }
  if (onDisk === composed.supergraphSdl) return true;
  writeFileSync(path, composed.supergraphSdl);
  return false;
}

async function main() {
  const seed = seedDirectory();
  const names = actorNames(seed);
  const base = await startDiplograph(seed);

  // The watchlist's own data, and a follower or few for each generated
  // actor (fewer than any real one has), so a batch can name 200 actors.
  const followers = ownData();
  for (let i = 0; i < GENERATED_ACTORS; i++) followers.set(`actor/g${i}`, 1 + (i % 8));
  const watchlist = await startWatchlist(followers);
  stops.push(() => watchlist.stop());

  const gateway = new ApolloGateway({
    // Node's own fetch closes idle connections after 4 s, before the
    // subgraphs' servers do (actix-web after 5 s), so it never sends a
    // request on a connection the server is closing.
    buildService: ({ url }) => new RemoteGraphQLDataSource({ url, fetcher: fetch }),
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: "diplograph", url: `${base}/graphql` },
        { name: "watchlist", url: watchlist.url },
      ],
    }),
  });
  const server = new ApolloServer({ gateway });
  await server.start();
  stops.push(() => server.stop());
  // Starting composes and plans synchronously, which can hold the event
  // loop past the 4 s after which fetch drops the idle connection it
  // introspected on (diplograph closes it after 5 s): let that timer run
  // before the first query, or the query goes out on a closing connection.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const run = async (query, variables) => {
    const response = await server.executeOperation({ query, variables });
    assert.equal(response.body.kind, "single");
    // As a client would see it (plain objects, not null-prototype ones).
    return JSON.parse(JSON.stringify(response.body.singleResult));
  };

  await check("the gateway answers a query across both subgraphs", async () => {
    const answer = await run(`{
      actor(id: "actor/russia") { name kind followers }
      mostFollowed(first: 5) { id name followers }
    }`);
    assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
    assert.deepEqual(answer.data, {
      actor: { name: "Russia", kind: "STATE", followers: 41 },
      mostFollowed: [
        { id: "actor/russia", name: "Russia", followers: 41 },
        { id: "actor/south-ossetia", name: "South Ossetia", followers: 37 },
        { id: "actor/georgia", name: "Georgia", followers: 30 },
        { id: "actor/dmitry-medvedev", name: "Dmitry Medvedev", followers: 12 },
        { id: "actor/eduard-kokoity", name: "Eduard Kokoity", followers: 9 },
      ],
    });
  });

  const batch = `query Batch($first: Int!) { mostFollowed(first: $first) { id name followers } }`;
  await check(`a ${BATCH}-actor _entities batch costs at most ${MAX_BATCH_READS} store reads`, async () => {
    const before = await counters(base);
    const answer = await run(batch, { first: BATCH });
    const after = await counters(base);
    assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
    assert.equal(answer.data.mostFollowed.length, BATCH);
    for (const actor of answer.data.mostFollowed) {
      assert.equal(actor.name, names.get(actor.id), `the name of ${actor.id}`);
    }
    const reads = after.reads - before.reads;
    console.log(`     store reads for the batch of ${BATCH}: ${reads}`);
    assert.ok(reads <= MAX_BATCH_READS, `${reads} store reads`);
  });

  await check("the gateway's next _entities batch is answered by a compiled plan", async () => {
    const before = await counters(base);
    const answer = await run(batch, { first: BATCH - 1 });
    const after = await counters(base);
    assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
    assert.equal(answer.data.mostFollowed.length, BATCH - 1);
    assert.ok(answer.data.mostFollowed.every((actor) => actor.name === names.get(actor.id)));
    const planned = after.planned - before.planned;
    const reads = after.reads - before.reads;
    console.log(`     compiled answers: +${planned}, store reads: ${reads}`);
    assert.ok(planned >= 1, "a plan answered");
    assert.ok(reads <= 1, `${reads} store reads`);
  });

  await check("an error from diplograph reaches the client through the gateway with its code", async () => {
    const answer = await run(`{ actor(id: "event/recognition-decrees") { name followers } }`);
    assert.equal(answer.data?.actor ?? null, null);
    const error = answer.errors?.[0];
    assert.equal(error?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(answer.errors));
    assert.match(error.message, /argument `id`/);
  });

  await check("an error from the watchlist reaches the client with its code", async () => {
    const answer = await run(`{ mostFollowed(first: 0) { id name } }`);
    assert.equal(answer.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(answer.errors));
  });

  await check("supergraph.graphql is the composition the docker-compose federation profile serves", async () => {
    const response = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ _service { sdl } }" }),
    });
    const sdl = (await response.json()).data._service.sdl;
    assert.ok(keepSupergraph(sdl), "supergraph.graphql was out of date and has been rewritten; review and commit it");
  });
}

try {
  await main();
} catch (error) {
  failed += 1;
  console.log(`FAIL setting up\n${error.stack ?? error}`);
} finally {
  for (const stop of stops.reverse()) await stop();
}
console.log(failed ? `${failed} federation check(s) failed` : "every federation check passed");
process.exit(failed ? 1 : 0);
