import * as path from 'path';
import { buildSync } from 'esbuild';
import { Construct } from 'constructs';
import { AssetType, TerraformAsset } from 'cdktf';

const PROJECT_ROOT = path.resolve(__dirname, '..');
const BUILD_ROOT = path.join(PROJECT_ROOT, '.build', 'lambdas');
const built = new Set<string>();

/** Directory holding the esbuild output for `lambdas/<name>`. */
export const bundleDir = (name: string): string => path.join(BUILD_ROOT, name);

/**
 * Bundles `lambdas/<name>/index.ts` with esbuild into one self-contained
 * CommonJS file for Node.js 22 on arm64, and wraps it as a zip asset.
 *
 * Everything, the AWS SDK included, is bundled so that the deployed code is
 * exactly what was tested, not whatever SDK the runtime happens to ship.
 * Each handler is built once per process even when three stacks use it.
 */
export function bundleHandler(scope: Construct, id: string, name: string): TerraformAsset {
  const outdir = bundleDir(name);
  if (!built.has(name)) {
    const result = buildSync({
      entryPoints: [path.join(PROJECT_ROOT, 'lambdas', name, 'index.ts')],
      outfile: path.join(outdir, 'index.js'),
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      // Error class names survive minification: logs and the error catalog name them.
      keepNames: true,
      legalComments: 'none',
      logLevel: 'silent',
    });
    if (result.errors.length > 0) {
      throw new Error(`esbuild failed for lambdas/${name}: ${result.errors.map((e) => e.text).join('; ')}`);
    }
    built.add(name);
  }
  return new TerraformAsset(scope, id, { path: outdir, type: AssetType.ARCHIVE });
}
