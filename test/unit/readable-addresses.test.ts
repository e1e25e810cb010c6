import { Testing } from 'cdktf';
import { Construct } from 'constructs';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { AddressGroup, ReadableAddressStack } from '../../stacks/readable-addresses';

describe('readable Terraform addresses', () => {
  test('addresses are the construct path in snake case', () => {
    const stack = new ReadableAddressStack(Testing.app(), 'test');
    new AwsProvider(stack, 'aws', { region: 'us-east-1' });
    const group = new Construct(stack, 'sync-worker');
    new SqsQueue(group, 'dlq', { name: 'x' });
    expect(Object.keys(JSON.parse(Testing.synth(stack)).resource.aws_sqs_queue)).toEqual(['sync_worker_dlq']);
  });

  test('two paths that flatten to the same address are an error, not a silent rename', () => {
    const stack = new ReadableAddressStack(Testing.app(), 'test');
    new AwsProvider(stack, 'aws', { region: 'us-east-1' });
    new SqsQueue(new Construct(stack, 'a-b'), 'c', { name: 'one' });
    new SqsQueue(new Construct(stack, 'a'), 'b-c', { name: 'two' });
    expect(() => Testing.synth(stack)).toThrow(/Terraform address collision: "a_b_c"/);
  });

  test('an address group (a tier) is left out of its members’ addresses, so regrouping moves no state', () => {
    const stack = new ReadableAddressStack(Testing.app(), 'test');
    new AwsProvider(stack, 'aws', { region: 'us-east-1' });
    const tier = new AddressGroup(stack, 'data-tier');
    new SqsQueue(new Construct(tier, 'sync-worker'), 'dlq', { name: 'x' });
    new SqsQueue(tier, 'alone', { name: 'y' });
    expect(Object.keys(JSON.parse(Testing.synth(stack)).resource.aws_sqs_queue).sort()).toEqual(['alone', 'sync_worker_dlq']);
  });

  test('members of two groups still collide loudly', () => {
    const stack = new ReadableAddressStack(Testing.app(), 'test');
    new AwsProvider(stack, 'aws', { region: 'us-east-1' });
    new SqsQueue(new AddressGroup(stack, 'one'), 'queue', { name: 'x' });
    new SqsQueue(new AddressGroup(stack, 'two'), 'queue', { name: 'y' });
    expect(() => Testing.synth(stack)).toThrow(/Terraform address collision: "queue"/);
  });
});
