// The Relay compiler on a @refetchable/@connection fragment, then the
// queries it generates, run against the server as Relay would: the first
// page through the parent query, the next through the pagination query
// (which refetches the actor by `node(id:)`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, post, root } from "./server.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

/** Compiles the fragment and query; returns the text of each generated query. */
function compile() {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "diplograph-relay-"));
  try {
    fs.mkdirSync(path.join(project, "src"));
    fs.copyFileSync(path.join(root, "schema.graphql"), path.join(project, "schema.graphql"));
    fs.writeFileSync(path.join(project, "relay.config.json"), JSON.stringify({ src: "./src", schema: "./schema.graphql", language: "javascript" }));
    fs.writeFileSync(
      path.join(project, "src/ActorEvents.js"),
      `graphql\`
  fragment ActorEvents_actor on Actor
  @refetchable(queryName: "ActorEventsPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 4 }, cursor: { type: "String" }) {
    name
    events(first: $count, after: $cursor) @connection(key: "ActorEvents_events") {
      edges { node { id title date } }
    }
  }
\`;
graphql\`
  query ActorEventsQuery($id: ID!) {
    actor(id: $id) { ...ActorEvents_actor }
  }
\`;
`,
    );
    execFileSync(path.join(here, "node_modules/.bin/relay-compiler"), [], { cwd: project, encoding: "utf8" });
    const text = (name) => {
      const generated = fs.readFileSync(path.join(project, "src/__generated__", `${name}.graphql.js`), "utf8");
      return JSON.parse(generated.match(/"text": ("(?:[^"\\]|\\.)*")/)[1]);
    };
    return { parent: text("ActorEventsQuery"), pagination: text("ActorEventsPaginationQuery") };
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
  }
}

test("the Relay compiler's queries for a refetchable connection page through an actor's events", async () => {
  const { parent, pagination } = compile();
  assert.match(pagination, /node\(id: \$id\)/);
  const first = await post(server, parent, { id: "actor/russia" });
  assert.equal(first.errors, undefined, JSON.stringify(first.errors));
  const actor = first.data.actor;
  assert.equal(actor.name, "Russia");
  assert.equal(actor.events.edges.length, 4);
  assert.ok(actor.events.pageInfo.hasNextPage);
  const next = await post(server, pagination, { id: actor.id, count: 4, cursor: actor.events.pageInfo.endCursor });
  assert.equal(next.errors, undefined, JSON.stringify(next.errors));
  const ids = [...actor.events.edges, ...next.data.node.events.edges].map((e) => e.node.id);
  const direct = await post(server, `query { actor(id: "actor/russia") { events(first: 8) { edges { node { id } } } } }`);
  assert.deepEqual(ids, direct.data.actor.events.edges.map((e) => e.node.id));
});
