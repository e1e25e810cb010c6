/**
 * Runs the policy suite over the synthesized stacks in cdktf.out and exits 1
 * on any breach. `npm test` runs it right after `cdktf synth`, so the files
 * checked are exactly the files Terraform validates and deploys.
 *
 *   npm run policy [-- dev staging prod prod-standby]   (default: every synthesized stack)
 *   npm run policy -- --write-docs                      (rewrites the exception table in docs/testing.md)
 */
import * as fs from 'fs';
import * as path from 'path';
import { CHECKS, EXCEPTIONS, Exception, evaluate, exceptionsTable } from '../test/policy/checks';

const root = path.resolve(__dirname, '..');
if (process.argv[2] === '--write-docs') {
  const docs = path.join(root, 'docs', 'testing.md');
  const text = fs.readFileSync(docs, 'utf8');
  const section = /(<!-- exceptions: [^\n]*-->\n)[\s\S]*?(<!-- exceptions:end -->)/;
  if (!section.test(text)) {
    console.error('policy: docs/testing.md has no exceptions section to rewrite');
    process.exit(1);
  }
  fs.writeFileSync(docs, text.replace(section, (_, open: string, close: string) => `${open}${exceptionsTable()}\n${close}`));
  console.log(`policy: wrote ${EXCEPTIONS.length} exceptions to docs/testing.md`);
  process.exit(0);
}
const synthesized = path.join(root, 'cdktf.out', 'stacks');
const stacks = process.argv.slice(2).length > 0 ? process.argv.slice(2) : fs.existsSync(synthesized) ? fs.readdirSync(synthesized).sort() : ['dev', 'staging', 'prod'];
let failed = false;
const applied = new Set<Exception>();
for (const stack of stacks) {
  const file = path.join(root, 'cdktf.out', 'stacks', stack, 'cdk.tf.json');
  if (!fs.existsSync(file)) {
    console.error(`policy: ${path.relative(root, file)} is missing; run npm run synth first`);
    process.exit(1);
  }
  const report = evaluate(JSON.parse(fs.readFileSync(file, 'utf8')));
  console.log(
    `policy: ${stack}: ${CHECKS.length} checks, ${report.violations.length} violations, ${report.appliedExceptions.length} named exceptions applied`,
  );
  for (const e of report.appliedExceptions) {
    applied.add(e);
    console.log(`  exception ${e.check} ${e.address}${e.statement ? ` (${e.statement})` : ''}: ${e.reason}`);
  }
  for (const v of report.violations) console.error(`  FAIL ${v.check} ${v.address}: ${v.message}`);
  failed ||= report.violations.length > 0;
}
// An exception no stack needs any more is stale: it would hide the next real finding.
if (process.argv.slice(2).length === 0) {
  // Exceptions for a setting the shipped configurations lack are proven by test/policy/policy.test.ts.
  for (const e of EXCEPTIONS.filter((x) => !applied.has(x) && !x.onlyWith)) {
    console.error(`  STALE exception ${e.check} ${e.address}: it matches no finding in any stack; remove it`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
