// The Relay compiler on the @refetchable/@connection fragment clients of
// this API would write for an actor's events: used by relay.test.mjs (which
// runs the queries) and generate.mjs (which writes them to the corpus).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);

/**
 * Compiles the fragment (pages of `pageSize` events) and its parent query;
 * returns the text of each query the compiler generates, by name.
 */
export function compileRelay(pageSize) {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "diplograph-relay-"));
  try {
    fs.mkdirSync(path.join(project, "src"));
    fs.copyFileSync(path.join(here, "../../schema.graphql"), path.join(project, "schema.graphql"));
    fs.writeFileSync(path.join(project, "relay.config.json"), JSON.stringify({ src: "./src", schema: "./schema.graphql", language: "javascript" }));
    fs.writeFileSync(
      path.join(project, "src/ActorEvents.js"),
      `graphql\`
  fragment ActorEvents_actor on Actor
  @refetchable(queryName: "ActorEventsPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: ${pageSize} }, cursor: { type: "String" }) {
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
    return { ActorEventsQuery: text("ActorEventsQuery"), ActorEventsPaginationQuery: text("ActorEventsPaginationQuery") };
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
  }
}
