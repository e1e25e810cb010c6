import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Dispatcher, SyncTaskJob } from '../../ports';
import { MirrorError } from '../../errors';

export interface AwsDispatcherConfig {
  readonly workerFunctionName: string;
  readonly clusterArn: string;
  /**
   * Task definition family (the latest ACTIVE revision runs) or `family:revision`.
   * RunTask refuses a task-definition ARN without its revision.
   */
  readonly taskFamily: string;
  readonly containerName: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
  readonly capacityProvider: 'FARGATE' | 'FARGATE_SPOT';
}

/** Environment variable through which the task learns its run (the only override sent for a whole run). */
export const RUN_ID_ENV = 'HBS_RUN_ID';
/** Sent only when the task runs just the brew phase or just the cask phase (`SyncTaskJob`); absent means `transfers`. */
export const SYNC_JOB_ENV = 'HBS_SYNC_JOB';

/** Structural subset of the SDK clients, so tests can record the exact requests. */
interface Sender<C, O> {
  send(command: C): Promise<O>;
}

export class DispatchError extends MirrorError {
  readonly kind = 'local-environment';
}

/** Dispatcher over Lambda async invocation and ECS RunTask. */
export class AwsDispatcher implements Dispatcher {
  constructor(
    private readonly config: AwsDispatcherConfig,
    private readonly lambda: Sender<InvokeCommand, { StatusCode?: number; FunctionError?: string }> = new LambdaClient({}),
    private readonly ecs: Sender<RunTaskCommand, { tasks?: { taskArn?: string }[]; failures?: { reason?: string }[] }> = new ECSClient({}),
  ) {}

  async dispatchBatches(runId: string, batchIds: readonly string[]): Promise<void> {
    for (const batchId of batchIds) {
      const response = await this.lambda.send(
        new InvokeCommand({
          FunctionName: this.config.workerFunctionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify({ runId, batchId })),
        }),
      );
      if (response.StatusCode !== 202) {
        throw new DispatchError(`worker invocation for batch ${batchId} returned ${response.StatusCode ?? 'no status'}`);
      }
    }
  }

  async startLargeSync(runId: string, job: SyncTaskJob = 'transfers'): Promise<string> {
    const environment = [{ name: RUN_ID_ENV, value: runId }, ...(job !== 'transfers' ? [{ name: SYNC_JOB_ENV, value: job }] : [])];
    const response = await this.ecs.send(
      new RunTaskCommand({
        cluster: this.config.clusterArn,
        taskDefinition: this.config.taskFamily,
        count: 1,
        capacityProviderStrategy: [{ capacityProvider: this.config.capacityProvider, weight: 1 }],
        networkConfiguration: {
          awsvpcConfiguration: {
            subnets: [...this.config.subnetIds],
            securityGroups: [this.config.securityGroupId],
            assignPublicIp: 'DISABLED',
          },
        },
        overrides: { containerOverrides: [{ name: this.config.containerName, environment }] },
        startedBy: `sync-${job !== 'transfers' ? `${job}-` : ''}${runId}`.slice(0, 128),
      }),
    );
    const taskArn = response.tasks?.[0]?.taskArn;
    if (!taskArn) {
      throw new DispatchError(`RunTask started no task: ${(response.failures ?? []).map((f) => f.reason).join(', ') || 'no reason given'}`);
    }
    return taskArn;
  }
}
