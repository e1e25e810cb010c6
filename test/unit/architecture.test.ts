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

describe('import cycles', () => {
  const ROOT = path.resolve(__dirname, '../..');
  const folders = ['engine', 'constructs', 'stacks', 'cli', 'config', 'lambdas', 'containers', 'scripts'];

  /** Every relative import of a file (type-only ones too: a cycle of types is still two rooms that need each other), as repository paths. */
  function importsOf(file: string): string[] {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
    const targets: string[] = [];
    for (const statement of source.statements) {
      const specifier = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), specifier.text);
      for (const candidate of [`${target}.ts`, path.join(target, 'index.ts')]) {
        try {
          readFileSync(candidate);
          targets.push(path.relative(ROOT, candidate));
          break;
        } catch {
          // not this form of the specifier
        }
      }
    }
    return targets;
  }

  /** The strongly connected components with more than one file (Tarjan's algorithm): each is an import cycle. */
  function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
    let next = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const found: string[][] = [];
    const visit = (node: string): void => {
      index.set(node, next);
      low.set(node, next++);
      stack.push(node);
      onStack.add(node);
      for (const target of graph.get(node) ?? []) {
        if (!index.has(target)) {
          visit(target);
          low.set(node, Math.min(low.get(node)!, low.get(target)!));
        } else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
      }
    };
    for (const node of graph.keys()) if (!index.has(node)) visit(node);
    return found;
  }

  test('the cycle finder finds a cycle of two and one of three, and nothing in a chain', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['a']], ['c', ['a']]]))).toEqual([['a', 'b']]);
    expect(cycles(new Map([['x', ['y']], ['y', ['z']], ['z', ['x']]]))).toEqual([['x', 'y', 'z']]);
    expect(cycles(new Map([['p', ['q']], ['q', ['r']], ['r', []]]))).toEqual([]);
  });

  test('no source file reaches itself through its imports', () => {
    const files = folders.flatMap((f) => sourceFiles(path.join(ROOT, f)));
    const graph = new Map(files.map((file) => [path.relative(ROOT, file), importsOf(file)]));
    expect(graph.get('engine/sync/prepare.ts')).toContain('engine/sync/contracts.ts');
    expect(cycles(graph)).toEqual([]);
  });
});
