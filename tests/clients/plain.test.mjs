// The plain clients: graphql-request over HTTP, graphql-ws and the legacy
// subscriptions-transport-ws over the WebSocket, against the real server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { GraphQLClient, ClientError, gql } from "graphql-request";
import { createClient } from "graphql-ws";
import { SubscriptionClient } from "subscriptions-transport-ws";
import { startServer, token, createEvent } from "./server.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

const Added = `subscription Added { eventAdded(filter: { actor: "actor/russia" }) { id title } }`;

test("graphql-request runs a query with variables and a mutation with the write token", async () => {
  const reader = new GraphQLClient(server.http);
  const treaty = await reader.request(gql`query T($id: ID!) { treaty(id: $id) { name signedOn } }`, { id: "friendship-2008" });
  assert.deepEqual(treaty, { treaty: { name: "Treaty of Friendship, Cooperation and Mutual Assistance", signedOn: "2008-09-17" } });
  const writer = new GraphQLClient(server.http, { headers: { authorization: `Bearer ${token}` } });
  const created = await writer.request(gql`mutation C($input: CreateActorInput!) { createActor(input: $input) { actor { id name } } }`, {
    input: { name: "Request Envoy", kind: "PERSON" },
  });
  assert.deepEqual(created, { createActor: { actor: { id: "actor/request-envoy", name: "Request Envoy" } } });
});

test("graphql-request surfaces the error codes of a bad query and of a refused write", async () => {
  const reader = new GraphQLClient(server.http);
  await assert.rejects(reader.request(`{ treaty(id: "friendship-2008") { nope } }`), (error) => {
    assert.ok(error instanceof ClientError);
    assert.equal(error.response.errors[0].extensions.code, "GRAPHQL_VALIDATION_FAILED");
    return true;
  });
  const wrong = new GraphQLClient(server.http, { headers: { authorization: "Bearer not-the-token-at-all" } });
  await assert.rejects(wrong.request(`mutation { deleteActor(id: "actor/russia") { deletedId } }`), (error) => {
    assert.ok(error instanceof ClientError);
    assert.equal(error.response.status, 401);
    assert.equal(error.response.errors[0].extensions.code, "UNAUTHENTICATED");
    return true;
  });
});

test("graphql-ws (graphql-transport-ws) receives an event created by a mutation", async () => {
  const client = createClient({ url: server.ws, webSocketImpl: WebSocket, retryAttempts: 0 });
  const received = new Promise((resolve, reject) => {
    const stop = client.subscribe({ query: Added }, { next: (r) => { stop(); resolve(r); }, error: reject, complete: () => {} });
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const id = await createEvent(server, "graphql-ws check");
  assert.deepEqual(await received, { data: { eventAdded: { id, title: "graphql-ws check" } } });
  await client.dispose();
});

test("subscriptions-transport-ws (the legacy graphql-ws protocol) receives an event created by a mutation", async () => {
  const client = new SubscriptionClient(server.ws, { reconnect: false, lazy: false }, WebSocket);
  const received = new Promise((resolve, reject) => {
    const subscription = client.request({ query: Added }).subscribe({
      next: (r) => { subscription.unsubscribe(); resolve(r); },
      error: reject,
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const id = await createEvent(server, "subscriptions-transport-ws check");
  assert.deepEqual(await received, { data: { eventAdded: { id, title: "subscriptions-transport-ws check" } } });
  client.close();
});
