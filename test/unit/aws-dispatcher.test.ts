import { RunTaskCommand } from '@aws-sdk/client-ecs';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { AwsDispatcher, DispatchError } from '../../engine/adapters/aws/dispatcher';
import { PROD_DISPATCH } from '../fixtures/dispatch';

// Lambda Invoke and ECS RunTask have no local peer, so the clients are recorded and the exact requests asserted.
const config = PROD_DISPATCH;

function recorder<O>(response: O) {
  const sent: unknown[] = [];
  return { sent, client: { send: async (command: unknown) => (sent.push(command), response) } };
}

describe('AWS dispatcher', () => {
  test('one asynchronous Invoke per batch, carrying only run and batch ids', async () => {
    const lambda = recorder({ StatusCode: 202 });
    const ecs = recorder({});
    await new AwsDispatcher(config, lambda.client, ecs.client).dispatchBatches('run-2026-11-22T03-00-00Z', ['b0', 'b1']);
    expect(lambda.sent).toHaveLength(2);
    lambda.sent.forEach((command, i) => {
      expect(command).toBeInstanceOf(InvokeCommand);
      const input = (command as InvokeCommand).input;
      expect({ ...input, Payload: JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8')) }).toEqual({
        FunctionName: 'prod-brew-sync-worker',
        InvocationType: 'Event',
        Payload: { runId: 'run-2026-11-22T03-00-00Z', batchId: `b${i}` },
      });
    });
    expect(ecs.sent).toEqual([]);
  });

  test('a rejected invocation is an error naming the batch', async () => {
    const lambda = recorder({ StatusCode: 500 });
    await expect(new AwsDispatcher(config, lambda.client, recorder({}).client).dispatchBatches('r', ['b7'])).rejects.toThrow(
      new DispatchError('worker invocation for batch b7 returned 500'),
    );
  });

  test('RunTask starts the sync task in private subnets with only the run id as override', async () => {
    const ecs = recorder({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/prod-brew-cluster/abc' }] });
    const arn = await new AwsDispatcher(config, recorder({}).client, ecs.client).startLargeSync('run-42');
    expect(arn).toBe('arn:aws:ecs:us-east-1:123456789012:task/prod-brew-cluster/abc');
    expect(ecs.sent).toHaveLength(1);
    expect(ecs.sent[0]).toBeInstanceOf(RunTaskCommand);
    expect((ecs.sent[0] as RunTaskCommand).input).toEqual({
      cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod-brew-cluster',
      // A family, not a revisionless ARN: RunTask refuses `arn:…:task-definition/<family>` without `:<revision>`.
      taskDefinition: 'prod-brew-sync-task',
      count: 1,
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b', 'subnet-c'], securityGroups: ['sg-sync'], assignPublicIp: 'DISABLED' },
      },
      overrides: { containerOverrides: [{ name: 'prod-brew-sync-task', environment: [{ name: 'HBS_RUN_ID', value: 'run-42' }] }] },
      startedBy: 'sync-run-42',
    });
  });

  test('RunTask failures are reported with ECS’s reasons', async () => {
    const ecs = recorder({ tasks: [], failures: [{ reason: 'RESOURCE:MEMORY' }] });
    await expect(new AwsDispatcher(config, recorder({}).client, ecs.client).startLargeSync('r')).rejects.toThrow(
      /RunTask started no task: RESOURCE:MEMORY/,
    );
  });
});
