// The watchlist subgraph: a second service of a federated graph, written
// in Node. It knows diplograph's actors only by id and adds one field to
// them, `Actor.followers`, from data of its own; `Query.mostFollowed` hands
// the gateway actor references that diplograph resolves (`_entities`).
//
// `node watchlist.mjs` serves it on $PORT (default 4001) with the data in
// watchlist.json (the docker-compose `federation` profile runs it so);
// run.mjs starts it on port 0 with more data.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { GraphQLError } from "graphql";
import gql from "graphql-tag";

export const typeDefs = gql`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  """
  An actor of diplograph's graph, as the watchlist knows it: by its id.
  """
  type Actor @key(fields: "id") {
    id: ID!
    """
    How many analysts on the watchlist follow this actor (0 if none).
    """
    followers: Int!
  }

  type Query {
    """
    The actors with the most followers, most followed first (ties by id); \`first\` is 1 to 500.
    """
    mostFollowed(first: Int!): [Actor!]!
  }
`;

/** Most actors `mostFollowed` returns. */
const MAX_FIRST = 500;

/** The subgraph's resolvers over `followers`, a Map from actor id to a count. */
export function resolvers(followers) {
  const actor = (id) => ({ id, followers: followers.get(id) ?? 0 });
  return {
    Actor: {
      __resolveReference: (reference) => actor(reference.id),
    },
    Query: {
      mostFollowed: (_, { first }) => {
        if (first < 1 || first > MAX_FIRST) {
          throw new GraphQLError(`argument \`first\`: must be from 1 to ${MAX_FIRST}, got ${first}`, {
            extensions: { code: "BAD_USER_INPUT", argument: "first" },
          });
        }
        return [...followers.entries()]
          .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
          .slice(0, first)
          .map(([id]) => actor(id));
      },
    },
  };
}

/** The data in watchlist.json, as a Map. */
export function ownData() {
  const file = new URL("./watchlist.json", import.meta.url);
  return new Map(Object.entries(JSON.parse(readFileSync(file, "utf8")).followers));
}

/** Serves the subgraph on `port` (0: any free port); resolves to its URL and a stop function. */
export async function startWatchlist(followers, port = 0) {
  const server = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers(followers) }) });
  const { url } = await startStandaloneServer(server, { listen: { port, host: "0.0.0.0" } });
  return { url: url.replace("0.0.0.0", "127.0.0.1").replace("[::]", "127.0.0.1"), stop: () => server.stop() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startWatchlist(ownData(), Number(process.env.PORT ?? 4001));
  console.log(`watchlist subgraph at ${url}`);
}
