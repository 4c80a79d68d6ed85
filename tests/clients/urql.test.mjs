// urql with Graphcache (normalised by id, Relay pagination) and the
// graphql-ws exchange for subscriptions, against the real server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Client, fetchExchange, subscriptionExchange, gql } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { relayPagination } from "@urql/exchange-graphcache/extras";
import { createClient } from "graphql-ws";
import { startServer, token, createEvent } from "./server.mjs";

let server;
let ws;
let urql;
before(async () => {
  server = await startServer();
  ws = createClient({ url: server.ws, webSocketImpl: WebSocket, retryAttempts: 0 });
  urql = new Client({
    url: server.http,
    fetchOptions: { headers: { authorization: `Bearer ${token}` } },
    exchanges: [
      cacheExchange({ resolvers: { Actor: { events: relayPagination() } } }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });
});
after(async () => {
  await ws?.dispose();
  await server?.stop();
});

test("Graphcache normalises by id: a mutation's payload changes what a cached query answers", async () => {
  const created = await urql
    .mutation(gql`mutation Create($input: CreateActorInput!) { createActor(input: $input) { actor { id name } } }`, {
      input: { name: "Urql Cache Envoy", kind: "PERSON" },
    })
    .toPromise();
  assert.equal(created.error, undefined, String(created.error));
  const id = created.data.createActor.actor.id;
  const Name = gql`query Name($id: ID!) { actor(id: $id) { id name } }`;
  const before = await urql.query(Name, { id }).toPromise();
  assert.equal(before.data.actor.name, "Urql Cache Envoy");
  const renamed = await urql
    .mutation(gql`mutation Rename($id: ID!, $input: UpdateActorInput!) { updateActor(id: $id, input: $input) { actor { id name } } }`, {
      id,
      input: { name: "Urql Cache Envoy, renamed" },
    })
    .toPromise();
  assert.equal(renamed.error, undefined, String(renamed.error));
  const after = await urql.query(Name, { id }, { requestPolicy: "cache-only" }).toPromise();
  assert.equal(after.data.actor.name, "Urql Cache Envoy, renamed");
});

test("Graphcache's relayPagination merges pages fetched with after", async () => {
  const Events = gql`query Events($after: String) { actor(id: "actor/russia") { id events(first: 4, after: $after) {
    edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }`;
  const first = await urql.query(Events, {}).toPromise();
  assert.equal(first.error, undefined, String(first.error));
  const next = await urql.query(Events, { after: first.data.actor.events.pageInfo.endCursor }).toPromise();
  const merged = next.data.actor.events.edges.map((e) => e.node.id);
  assert.equal(merged.length, 8, JSON.stringify(merged));
  assert.deepEqual(merged.slice(0, 4), first.data.actor.events.edges.map((e) => e.node.id));
});

test("a subscription over the graphql-ws exchange receives an event created by a mutation", async () => {
  const received = new Promise((resolve) => {
    const { unsubscribe } = urql
      .subscription(gql`subscription Added { eventAdded(filter: { actor: "actor/russia" }) { id title } }`, {})
      .subscribe((result) => {
        if (result.data) {
          unsubscribe();
          resolve(result.data.eventAdded);
        }
      });
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const id = await createEvent(server, "urql subscription check");
  const event = await received;
  assert.equal(event.id, id);
  assert.equal(event.title, "urql subscription check");
});
