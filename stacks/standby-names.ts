/**
 * Names the primary stack and the standby stack (`stacks/standby-stack.ts`)
 * both use: the primary's dashboard shows the standby's alarms by name, and
 * the deploy script finds the standby's stack directory.
 */

/** The standby stack of an environment: `<env>-standby`. */
export const standbyStackName = (environment: string): string => `${environment}-standby`;

/** Prefix of every standby resource name: distinct from the primary's `<env>-brew` (IAM names are global). */
export const standbyNamePrefix = (environment: string): string => `${environment}-brew-standby`;

/** The standby's alarms, `<prefix>-<suffix>`; the standby stack's tests hold it to exactly these. */
export const STANDBY_ALARM_SUFFIXES = ['serving-clients', 'alb-5xx-rate', 'alb-unhealthy-targets', 'alb-p99-latency', 'ecs-task-failures'] as const;
