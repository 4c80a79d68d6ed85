// Writes the client-shaped documents in this folder the way each client
// library sends them: Apollo Client and urql add `__typename` to every
// selection; the Relay compiler turns a `@refetchable`/`@connection`
// fragment into the query text it sends. `tests/api/clients.rs` runs them.
//
// Run from this folder after `npm ci` (the packages in package.json):
//   node generate.mjs
import fs from "node:fs";
import path from "node:path";
import { parse, print } from "graphql";
import { addTypenameToDocument } from "@apollo/client/utilities/index.js";
import { formatDocument } from "@urql/core";
import { compileRelay } from "./relay-compile.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
const write = (name, text) => fs.writeFileSync(path.join(here, name), text.trim() + "\n");

// Apollo Client with relayStylePagination: `$first: Int!, $after: String`,
// edges with cursors, pageInfo, fragments.
const apollo = {
  "apollo-nested.graphql": `
    query NestedEvents($first: Int!, $after: String) {
      events(first: $first, after: $after) {
        edges { cursor node { id title participants { role actor { id name events { edges { cursor node { id title } } pageInfo { hasNextPage endCursor } } } } } }
        pageInfo { hasNextPage endCursor }
      }
    }`,
  "apollo-actor.graphql": `
    query ActorPage($id: ID!, $first: Int!, $after: String) {
      actor(id: $id) {
        ...ActorCard
        events(first: $first, after: $after) {
          edges { cursor node { ...EventRow } }
          pageInfo { hasNextPage endCursor }
          totalCount
        }
      }
    }
    fragment ActorCard on Actor { id name kind aliases partOf { id name } positions { title from to of { id name } } }
    fragment EventRow on Event { id title date kind place { id name } }`,
};
for (const [name, text] of Object.entries(apollo)) {
  write(name, print(addTypenameToDocument(parse(text))));
}

// urql's cache exchange formats documents the same way before sending them.
const urql = {
  "urql-search.graphql": `
    query Search($q: String!, $first: Int) {
      search(query: $q, first: $first) {
        score
        node { id ... on Actor { name kind } ... on Event { title date } ... on Place { name within { name } } }
      }
    }`,
  "urql-treaty.graphql": `
    query Treaty($id: ID!, $withMoney: Boolean!) {
      treaty(id: $id) {
        id name signedOn parties { id name } ratifications { by { id name } date }
        fundingAllocations @include(if: $withMoney) { id amount { amount currency } }
      }
    }`,
};
for (const [name, text] of Object.entries(urql)) {
  write(name, print(formatDocument(parse(text))));
}

// The Relay compiler's output for a refetchable connection fragment.
for (const [name, text] of Object.entries(compileRelay(10))) {
  write(`relay-${name}.graphql`, text);
}
