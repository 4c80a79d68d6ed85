// GraphQL Code Generator (the client preset) over every GraphQL operation
// shown in README.md and docs/, typed from schema.graphql and from the
// running server's introspection, then `tsc --noEmit` over the result and
// over code that uses it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generate } from "@graphql-codegen/cli";
import { startServer, root } from "./server.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

/**
 * Every ```graphql block of README.md and docs/*.md, named when it is not;
 * the federation examples (`_entities`, which gateways send, not apps) are
 * not in the public schema and are left out.
 */
function operations() {
  const files = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const found = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), "utf8");
    for (const match of text.matchAll(/^```graphql\n([\s\S]*?)^```$/gm)) {
      if (/\b_(entities|service)\b/.test(match[1])) continue;
      const name = `Docs${found.length}`;
      // The client preset wants every operation named; the docs show some anonymous.
      const named = match[1]
        .trim()
        .replace(/^\{/, `query ${name} {`)
        .replace(/^(query|mutation|subscription)\s*([({])/, `$1 ${name}$2`);
      found.push({ file, text: named });
    }
  }
  return found;
}

/** Generates types for the docs' operations from `schema`, and type-checks them. */
async function generateAndCheck(schema) {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "diplograph-codegen-"));
  try {
    fs.symlinkSync(path.join(here, "node_modules"), path.join(project, "node_modules"));
    fs.mkdirSync(path.join(project, "src"));
    const ops = operations();
    assert.ok(ops.length >= 5, `the docs show operations: ${ops.length}`);
    const source = ops.map((op, i) => `// ${op.file}\nexport const Op${i} = graphql(\`\n${op.text}\n\`);\n`).join("\n");
    fs.writeFileSync(path.join(project, "src/operations.ts"), `import { graphql } from "./gql";\n\n${source}`);
    // Code that uses the generated types, as an app would: it must compile,
    // and a field the schema does not have must not.
    const treaty = ops.findIndex((op) => op.file === "README.md" && op.text.includes("treaty("));
    assert.ok(treaty >= 0, "the README's treaty example is among them");
    fs.writeFileSync(
      path.join(project, "src/use.ts"),
      `import type { ResultOf } from "@graphql-typed-document-node/core";
import { Op${treaty} } from "./operations";
type Treaty = NonNullable<ResultOf<typeof Op${treaty}>["treaty"]>;
export function describe(treaty: Treaty): string {
  const signed: string | null | undefined = treaty.signedOn;
  const places: string[] = treaty.signedAt ? [treaty.signedAt.name] : [];
  const ratified: number = treaty.ratifications.length;
  // @ts-expect-error: no such field in the schema
  const nope = treaty.nope;
  return [treaty.name, signed, ...places, String(ratified), String(nope)].join(" ");
}
`,
    );
    await generate(
      {
        schema,
        documents: [path.join(project, "src/operations.ts")],
        generates: {
          [path.join(project, "src/gql/")]: {
            preset: "client",
            // `_Any` is the federation representation scalar the served schema has.
            config: { strictScalars: true, scalars: { BigInt: "string", PartialDate: "string", _Any: "unknown" } },
          },
        },
        silent: true,
      },
      true,
    );
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "esnext", moduleResolution: "bundler", target: "es2022", skipLibCheck: true }, include: ["src"] }),
    );
    const tsc = path.join(here, "node_modules/.bin/tsc");
    try {
      execFileSync(tsc, ["--noEmit", "-p", project], { encoding: "utf8" });
    } catch (error) {
      assert.fail(`tsc --noEmit failed:\n${error.stdout}${error.stderr}`);
    }
    return fs.readFileSync(path.join(project, "src/gql/graphql.ts"), "utf8");
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
  }
}

test("types generated from schema.graphql type-check the docs' operations", async () => {
  const generated = await generateAndCheck(path.join(root, "schema.graphql"));
  assert.match(generated, /BigInt: \{ input: string; output: string; \}/);
});

test("types generated from the server's introspection type-check the docs' operations", async () => {
  const generated = await generateAndCheck(server.http);
  assert.match(generated, /PartialDate: \{ input: string; output: string; \}/);
});
