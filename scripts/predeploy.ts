/**
 * Refuses to deploy while an environment still carries example values.
 *
 *   npm run predeploy -- prod          # check one environment
 *   STACKS=staging,prod npm run deploy -- staging prod
 *
 * npm runs this automatically before `npm run deploy`; it then checks the
 * environments named in STACKS (default: all three).
 */
import { ConfigError, ENVIRONMENT_NAMES, EnvironmentName, loadEnvironmentConfig, placeholderProblems } from '../config/environments';

export function predeployProblems(names: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const name of names) {
    if (!(ENVIRONMENT_NAMES as readonly string[]).includes(name)) {
      problems.push(`unknown environment "${name}" (expected one of ${ENVIRONMENT_NAMES.join(', ')})`);
      continue;
    }
    try {
      problems.push(...placeholderProblems(loadEnvironmentConfig(name as EnvironmentName, env)).map((p) => `${name}: ${p}`));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(`${name}: ${error.message}`);
    }
  }
  return problems;
}

if (require.main === module) {
  const fromArgs = process.argv.slice(2);
  const fromEnv = (process.env.STACKS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const names = fromArgs.length > 0 ? fromArgs : fromEnv.length > 0 ? fromEnv : [...ENVIRONMENT_NAMES];
  const problems = predeployProblems(names, process.env);
  if (problems.length > 0) {
    console.error(`predeploy: refusing to deploy ${names.join(', ')}:`);
    for (const problem of problems) console.error(`  - ${problem}`);
    console.error('Set the HBS_<ENV>_* variables listed above (see README, "Deploying").');
    process.exit(1);
  }
  console.log(`predeploy: ${names.join(', ')} ready to deploy`);
}
