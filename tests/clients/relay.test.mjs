// The Relay compiler on a @refetchable/@connection fragment, then the
// queries it generates, run against the server as Relay would: the first
// page through the parent query, the next through the pagination query
// (which refetches the actor by `node(id:)`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, post } from "./server.mjs";
import { compileRelay } from "./relay-compile.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

/** The generated parent and pagination queries, pages of 4 events. */
function compile() {
  const queries = compileRelay(4);
  return { parent: queries.ActorEventsQuery, pagination: queries.ActorEventsPaginationQuery };
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
