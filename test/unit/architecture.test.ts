import { readFileSync } from 'fs';
import * as path from 'path';
import { sourceFiles } from '../source-files';
import * as ts from 'typescript';

// The engine's dependency rules (docs/architecture.md, "Layout"): serving and the adapters
// know the store layout and the ports, never the sync's internals; the
// composition roots in engine/wiring are the only place that knows both.
const ENGINE = path.resolve(__dirname, '../../engine');

/** Source without comments, so documentation may name the layout. */
const code = (file: string): string =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*(\*|\/\*\*|\/\/)/.test(line))
    .join('\n');

/** Engine-relative paths of the engine modules a file imports. */
function engineImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)].map((m) => m[1]);
  return specifiers.map((s) => path.relative(ENGINE, path.resolve(path.dirname(file), s)));
}

describe('engine dependency rules', () => {
  test.each([['serve'], ['adapters'], ['homebrew']])('engine/%s imports nothing from engine/sync or engine/wiring', (folder) => {
    const offending = sourceFiles(path.join(ENGINE, folder)).flatMap((file) =>
      engineImports(file)
        .filter((target) => target.startsWith('sync/') || target.startsWith('wiring/'))
        .map((target) => `${path.relative(ENGINE, file)} → ${target}`),
    );
    expect(offending).toEqual([]);
  });

  test('only the composition roots build AWS adapters: no other engine file imports the AWS SDK and the sync together', () => {
    const wiring = sourceFiles(path.join(ENGINE, 'wiring')).map((f) => path.relative(ENGINE, f));
    expect(wiring).toEqual(expect.arrayContaining(['wiring/aws.ts', 'wiring/local.ts']));
    const mixers = sourceFiles(ENGINE)
      .filter((file) => !file.includes(`${path.sep}wiring${path.sep}`))
      .filter((file) => /from '@aws-sdk\//.test(readFileSync(file, 'utf8')) && engineImports(file).some((t) => t.startsWith('sync/')));
    expect(mixers).toEqual([]);
  });

  test('one definition of the sha256 pattern and of each store prefix', () => {
    const definitions = sourceFiles(ENGINE).filter((file) => /\[0-9a-f\]\{64\}/.test(code(file)));
    expect(definitions.map((f) => path.relative(ENGINE, f))).toEqual(['store-layout.ts']);
    const prefixLiterals = sourceFiles(ENGINE)
      .filter((file) => !file.endsWith('store-layout.ts'))
      .filter((file) => /['`](blobs\/sha256\/|api\/generations\/|runs\/|manifests\/)/.test(code(file)))
      .map((f) => path.relative(ENGINE, f));
    expect(prefixLiterals).toEqual([]);
  });
});

describe('function size', () => {
  // Long functions hide more than one concern. A function over the limit says why on the line above it (`// long: …`).
  const LIMIT = 80;
  const ROOT = path.resolve(__dirname, '../..');

  test(`no function outside the tests is longer than ${LIMIT} lines without a stated reason`, () => {
    const folders = ['engine', 'constructs', 'stacks', 'cli', 'lambdas', 'containers', 'config', 'scripts'];
    const offenders: string[] = [];
    for (const file of folders.flatMap((f) => sourceFiles(path.join(ROOT, f)))) {
      const text = readFileSync(file, 'utf8');
      const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
          const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
          const lines = source.getLineAndCharacterOfPosition(node.end).line - first + 1;
          const lineAbove = text.split('\n')[first - 1] ?? '';
          if (lines > LIMIT && !/\/\/ long: \S/.test(lineAbove)) offenders.push(`${path.relative(ROOT, file)}:${first + 1} (${lines} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(offenders).toEqual([]);
  });
});

describe('file size and construct surfaces', () => {
  const ROOT = path.resolve(__dirname, '../..');
  const folders = ['engine', 'constructs', 'stacks', 'cli', 'config', 'lambdas', 'containers'];
  // A file past this holds more than one concern; one that must stay whole says why near its top (`// long: …`).
  const FILE_LIMIT = 400;

  test(`no source file is longer than ${FILE_LIMIT} lines without a stated reason at its top`, () => {
    const offenders = folders
      .flatMap((f) => sourceFiles(path.join(ROOT, f)))
      .map((file) => ({ file, lines: readFileSync(file, 'utf8').split('\n') }))
      .filter(({ lines }) => lines.length > FILE_LIMIT && !lines.slice(0, 20).some((line) => /^\s*(\/\/|\*) long: \S/.test(line)))
      .map(({ file, lines }) => `${path.relative(ROOT, file)} (${lines.length} lines)`);
    expect(offenders).toEqual([]);
  });

  test('stacks read constructs’ attributes (bucketName, tableName, clusterArn…), not their raw Terraform resources', () => {
    // `data.store.bucket.bucket.bucket` reaches through two constructs into a provider class.
    const rawChain = /\.(bucket\.bucket|table|cluster\.cluster|service\.service)\.(bucket|id|arn|name)\b/;
    const offenders = sourceFiles(path.join(ROOT, 'stacks')).flatMap((file) =>
      code(file)
        .split('\n')
        .filter((line) => rawChain.test(line))
        .map((line) => `${path.relative(ROOT, file)}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
  });
});
