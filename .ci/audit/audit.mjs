// Runs every graphql-http server audit against URL and exits non-zero if
// any audit is not "ok" (warnings count as failures: we aim for all ok).
import { serverAudits } from 'graphql-http';

const url = process.argv[2] ?? 'http://127.0.0.1:8000/graphql';
const audits = serverAudits({ url, fetchFn: fetch });
let ok = 0;
const bad = [];
for (const audit of audits) {
  const result = await audit.fn();
  if (result.status === 'ok') ok += 1;
  else bad.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason });
}
for (const b of bad) console.log(`${b.status.toUpperCase()} ${b.id} ${b.name}: ${b.reason}`);
console.log(`graphql-http audit: ${ok}/${audits.length} ok`);
process.exit(bad.length === 0 ? 0 : 1);
