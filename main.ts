import { App } from 'cdktf';
import { errorKind } from './engine/errors';
import { ENVIRONMENT_NAMES } from './config/environment-config';
import { loadEnvironmentConfig } from './config/load-environment';
import { MirrorStack } from './stacks/mirror-stack';
import { StandbyStack } from './stacks/standby-stack';

/** Builds the dev, staging and prod stacks from their typed configurations, and the standby of each environment that has one (prod by default). */
export function buildApp(outdir?: string, env: NodeJS.ProcessEnv = process.env): App {
  const app = new App(outdir ? { outdir } : undefined);
  for (const name of ENVIRONMENT_NAMES) {
    const config = loadEnvironmentConfig(name, env);
    new MirrorStack(app, config);
    if (config.standby) new StandbyStack(app, config);
  }
  return app;
}

if (require.main === module) {
  try {
    buildApp().synth();
  } catch (error) {
    // A configuration mistake is one line naming the variable, not a stack trace.
    if (errorKind(error) !== 'usage') throw error;
    process.stderr.write(`synth: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}
