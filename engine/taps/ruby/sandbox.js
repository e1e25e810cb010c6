'use strict';
/*
 * One Ruby evaluation in its own process: Ruby 4.0 on WASI (the npm package
 * @ruby/4.0-wasm-wasi), run by engine/taps/ruby-sandbox.ts, which bounds its
 * time and memory and kills it past either.
 *
 *   node sandbox.js <@ruby/wasm-wasi entry> <ruby+stdlib.wasm> <script.rb> [<host dir>]
 *
 * WASI is @bjorn3/browser_wasi_shim (the pure-JS WASI ruby.wasm uses in
 * browsers), not node:wasi: Node's native fd_read can start a garbage
 * collection that crashes V8 while Ruby reads files (a segfault in about half
 * of the tap evaluations on Node 22 here). It also makes the sandbox plain:
 * Ruby sees an in-memory, read-only copy of the host directory at /tap and
 * nothing else, no sockets, no host file system. The script's stdout is this
 * process's stdout; environment for Ruby is the SHIM_* variables only.
 */
const { readFileSync, readdirSync, lstatSync } = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const [entry, wasmPath, scriptPath, hostDir] = process.argv.slice(2);
/** A copy larger than this is refused (a tap is a few MB of Ruby). */
const MAX_COPY_BYTES = 256 * 1024 * 1024;

(async () => {
  const { RubyVM } = require(entry);
  const shimPath = require.resolve('@bjorn3/browser_wasi_shim', { paths: [path.dirname(entry)] });
  const { WASI, File, OpenFile, ConsoleStdout, PreopenDirectory, Directory } = await import(pathToFileURL(shimPath).href);
  let copied = 0;
  const copy = (dir) => {
    const contents = new Map();
    for (const name of readdirSync(dir)) {
      if (name === '.git') continue;
      const full = path.join(dir, name);
      const stat = lstatSync(full);
      if (stat.isDirectory()) contents.set(name, new Directory(copy(full)));
      else if (stat.isFile()) {
        copied += stat.size;
        if (copied > MAX_COPY_BYTES) throw new Error(`the directory is over ${MAX_COPY_BYTES} bytes`);
        contents.set(name, new File(readFileSync(full), { readonly: true }));
      }
    }
    return contents;
  };
  const out = [];
  const err = [];
  const env = Object.entries(process.env).filter(([k]) => k.startsWith('SHIM_')).map(([k, v]) => `${k}=${v}`);
  const fds = [
    new OpenFile(new File([])),
    new ConsoleStdout((bytes) => out.push(Buffer.from(bytes))),
    new ConsoleStdout((bytes) => err.push(Buffer.from(bytes))),
    new PreopenDirectory('/tap', hostDir ? copy(hostDir) : new Map()),
  ];
  const wasi = new WASI(['ruby'], env, fds, { debug: false });
  const { vm } = await RubyVM.instantiateModule({ module: await WebAssembly.compile(readFileSync(wasmPath)), wasip1: wasi });
  try {
    vm.eval(readFileSync(scriptPath, 'utf8'));
    vm.eval('$stdout.flush; $stderr.flush');
  } catch (error) {
    err.push(Buffer.from(`${String(error.message).split('\n')[0]}\n`));
    process.exitCode = 1;
  }
  process.stdout.write(Buffer.concat(out));
  process.stderr.write(Buffer.concat(err));
})().catch((error) => {
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 1;
});
