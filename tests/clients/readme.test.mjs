// The README's "Use it from your app" snippets, run as written against the
// real server (its address in place of localhost:8000): each JavaScript
// snippet must print what its last comment says; the codegen config and the
// operation beside it must generate types that `tsc` accepts, as claimed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer, root } from "./server.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
let server;
before(async () => (server = await startServer()));
after(async () => server?.stop());

/** The fenced blocks of the README's "Use it from your app" section. */
function snippets() {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const section = readme.split("\n## Use it from your app\n")[1]?.split("\n## ")[0];
  assert.ok(section, "the README has a Use it from your app section");
  return [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map(([, language, text]) => ({ language, text }));
}

/** A scratch folder that sees this project's node_modules. */
function scratch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "diplograph-readme-"));
  fs.symlinkSync(path.join(here, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

const served = (text) => text.replaceAll("localhost:8000", server.address);

// A bundler resolves Apollo Client 3's entry points by folder; Node's ESM
// loader needs the file. Nothing else in a snippet is changed.
const forNode = (text) =>
  text
    .replace(/from "@apollo\/client"/g, 'from "@apollo/client/core/index.js"')
    .replace(/from "@apollo\/client\/([\w/-]+)"/g, 'from "@apollo/client/$1/index.js"');

for (const [i, snippet] of snippets().filter((s) => s.language === "js").entries()) {
  const name = snippet.text.match(/from "(@[\w-]+\/[\w-]+)"/)[1];
  test(`the README's ${name} snippet runs and prints what it says`, () => {
    const expected = snippet.text.trim().split("\n").at(-1).split("// ")[1];
    assert.ok(expected, "the snippet's last line says what it prints");
    const dir = scratch();
    try {
      const file = path.join(dir, `snippet-${i}.mjs`);
      // Browsers have a WebSocket; Node 20 gets the ws package's.
      fs.writeFileSync(file, `import WebSocket from "ws";\nglobalThis.WebSocket ??= WebSocket;\n${forNode(served(snippet.text))}`);
      const printed = execFileSync(process.execPath, [file], { encoding: "utf8", timeout: 30_000 });
      let from = 0;
      for (const part of expected.split("…").map((p) => p.trim())) {
        const at = printed.indexOf(part, from);
        assert.ok(at >= 0, `prints ${JSON.stringify(expected)}: ${printed}`);
        from = at + part.length;
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("the README's codegen config and operation generate types that tsc accepts", () => {
  const [config, operation] = snippets().filter((s) => s.language === "ts");
  assert.match(config.text, /CodegenConfig/);
  const dir = scratch();
  try {
    fs.mkdirSync(path.join(dir, "src"));
    fs.writeFileSync(path.join(dir, "codegen.ts"), served(config.text));
    fs.writeFileSync(path.join(dir, "src/treaty.ts"), operation.text);
    // What the snippet's comment claims about the result type.
    fs.writeFileSync(
      path.join(dir, "src/claim.ts"),
      `import type { ResultOf } from "@graphql-typed-document-node/core";
import { TreatyQuery } from "./treaty";
export const by = (data: ResultOf<typeof TreatyQuery>): string | undefined => data.treaty?.ratifications[0]?.by?.name;
`,
    );
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "esnext", moduleResolution: "bundler", target: "es2022", skipLibCheck: true }, include: ["src"] }),
    );
    const run = (bin, args) => {
      try {
        execFileSync(path.join(here, "node_modules/.bin", bin), args, { cwd: dir, encoding: "utf8", stdio: "pipe" });
      } catch (error) {
        assert.fail(`${bin} ${args.join(" ")} failed:\n${error.stdout}${error.stderr}`);
      }
    };
    run("graphql-codegen", ["--config", "codegen.ts"]);
    assert.ok(fs.existsSync(path.join(dir, "src/gql/graphql.ts")), "codegen wrote src/gql/");
    run("tsc", ["--noEmit", "-p", dir]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
