// Apollo Client 3 against the real server: the normalised cache, Relay-style
// paging with fetchMore, possibleTypes from introspection, a subscription
// over GraphQLWsLink, and automatic persisted queries.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import WebSocket from "ws";
import { ApolloClient, InMemoryCache, HttpLink, gql, split } from "@apollo/client/core/index.js";
import { relayStylePagination, getMainDefinition } from "@apollo/client/utilities/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { createClient } from "graphql-ws";
import { startServer, token, createEvent } from "./server.mjs";

let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");

function client({ cache = new InMemoryCache(), link } = {}) {
  return new ApolloClient({
    cache,
    link: link ?? new HttpLink({ uri: server.http, headers: { authorization: `Bearer ${token}` } }),
    // The client name and version go out as apollographql-client-* headers.
    clientAwareness: { name: "diplograph-clients-suite", version: "1.0.0" },
  });
}

test("a mutation's payload updates the normalised cache, and a watching query sees it without a refetch", async () => {
  const apollo = client();
  const created = await apollo.mutate({
    mutation: gql`mutation Create($input: CreateActorInput!) { createActor(input: $input) { actor { id name kind } } }`,
    variables: { input: { name: "Apollo Cache Envoy", kind: "PERSON" } },
  });
  const id = created.data.createActor.actor.id;
  const ActorName = gql`query ActorName($id: ID!) { actor(id: $id) { id name } }`;
  const seen = [];
  const watching = apollo.watchQuery({ query: ActorName, variables: { id } }).subscribe(({ data }) => seen.push(data.actor.name));
  await apollo.query({ query: ActorName, variables: { id } });
  await apollo.mutate({
    mutation: gql`mutation Rename($id: ID!, $input: UpdateActorInput!) { updateActor(id: $id, input: $input) { actor { id name } } }`,
    variables: { id, input: { name: "Apollo Cache Envoy, renamed" } },
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  watching.unsubscribe();
  assert.deepEqual(seen, ["Apollo Cache Envoy", "Apollo Cache Envoy, renamed"]);
  const cached = apollo.readQuery({ query: ActorName, variables: { id } });
  assert.equal(cached.actor.name, "Apollo Cache Envoy, renamed");
});

test("relayStylePagination with fetchMore pages through a connection and merges the edges in the cache", async () => {
  const cache = new InMemoryCache({ typePolicies: { Actor: { fields: { events: relayStylePagination() } } } });
  const apollo = client({ cache });
  const Events = gql`
    query RussiaEvents($first: Int!, $after: String) {
      actor(id: "actor/russia") { id events(first: $first, after: $after) {
        edges { cursor node { id title } } pageInfo { hasNextPage endCursor } totalCount } }
    }`;
  const first = await apollo.query({ query: Events, variables: { first: 3 } });
  assert.equal(first.data.actor.events.edges.length, 3);
  assert.ok(first.data.actor.events.pageInfo.hasNextPage);
  const watched = apollo.watchQuery({ query: Events, variables: { first: 3 } });
  await new Promise((resolve) => watched.subscribe(resolve));
  await watched.fetchMore({ variables: { first: 3, after: first.data.actor.events.pageInfo.endCursor } });
  const merged = watched.getCurrentResult().data.actor.events.edges.map((e) => e.node.id);
  const direct = await client().query({ query: Events, variables: { first: 6 }, fetchPolicy: "network-only" });
  assert.deepEqual(merged, direct.data.actor.events.edges.map((e) => e.node.id));
  assert.equal(new Set(merged).size, 6, "six distinct events in the merged list");
});

test("possibleTypes built from introspection let fragments on the Node interface match in the cache", async () => {
  const introspection = await client().query({
    query: gql`{ __schema { types { kind name possibleTypes { name } } } }`,
  });
  const possibleTypes = {};
  for (const type of introspection.data.__schema.types) {
    if (type.possibleTypes) possibleTypes[type.name] = type.possibleTypes.map((t) => t.name);
  }
  assert.ok(possibleTypes.Node.includes("Place") && possibleTypes.Node.includes("Treaty"), JSON.stringify(possibleTypes.Node));
  const cache = new InMemoryCache({ possibleTypes });
  const apollo = client({ cache });
  const result = await apollo.query({
    query: gql`query Found { search(query: "tskhinvali", first: 5) { score node { ...NodeId ... on Place { name } ... on Event { title } } } }
      fragment NodeId on Node { id }`,
  });
  const hit = result.data.search.find((h) => h.node.__typename === "Place");
  assert.ok(hit, JSON.stringify(result.data.search));
  const fragment = cache.readFragment({ id: cache.identify(hit.node), fragment: gql`fragment NodeOnly on Node { id }` });
  assert.deepEqual(fragment, { __typename: "Place", id: hit.node.id });
});

test("a subscription over GraphQLWsLink receives an event created by a mutation over HTTP", async () => {
  const ws = createClient({ url: server.ws, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(ws),
    new HttpLink({ uri: server.http, headers: { authorization: `Bearer ${token}` } }),
  );
  const apollo = client({ link });
  const received = new Promise((resolve, reject) => {
    const subscription = apollo
      .subscribe({ query: gql`subscription Added { eventAdded(filter: { actor: "actor/russia" }) { id title } }` })
      .subscribe({ next: ({ data }) => { subscription.unsubscribe(); resolve(data.eventAdded); }, error: reject });
  });
  await new Promise((resolve) => ws.on("connected", resolve));
  // The subscription is registered once the server acknowledged it; give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const id = await createEvent(server, "Apollo subscription check");
  const event = await received;
  assert.deepEqual(event, { __typename: "Event", id, title: "Apollo subscription check" });
  await ws.dispose();
});

test("the persisted-query link sends the hash alone once the server knows the query", async () => {
  const bodies = [];
  const recording = (url, init) => {
    bodies.push(JSON.parse(init.body));
    return fetch(url, init);
  };
  const link = () => createPersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: server.http, fetch: recording }));
  const Treaty = gql`query TreatyName { treaty(id: "friendship-2008") { id name } }`;
  const first = await client({ link: link() }).query({ query: Treaty });
  assert.equal(first.data.treaty.name, "Treaty of Friendship, Cooperation and Mutual Assistance");
  // A hash the server had not seen: it says PERSISTED_QUERY_NOT_FOUND, the link retries with the text.
  assert.equal(bodies.length, 2);
  assert.equal(bodies[0].query, undefined);
  assert.ok(bodies[1].query.includes("TreatyName"));
  // Another client with the same query: the hash alone is enough now.
  const second = await client({ link: link() }).query({ query: Treaty });
  assert.deepEqual(second.data, first.data);
  assert.equal(bodies.length, 3);
  assert.equal(bodies[2].query, undefined);
  assert.equal(bodies[2].extensions.persistedQuery.sha256Hash, bodies[0].extensions.persistedQuery.sha256Hash);
});
