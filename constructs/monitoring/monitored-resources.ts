/**
 * Every resource the alarms and the dashboard watch, by name or id. The stack
 * hands it to Monitoring once; each alarm group and the dashboard pick the
 * fields they read, so a resource is named in one place.
 */
export interface MonitoredResources {
  readonly orchestratorFunctionName: string;
  readonly workerFunctionName: string;
  /** Every dead-letter queue of the sync: any message in one means lost work. */
  readonly deadLetterQueueNames: string[];
  readonly syncTaskFamily: string;
  readonly clusterName: string;
  readonly clusterArn: string;
  readonly mirrorServiceName: string;
  readonly albArnSuffix: string;
  readonly targetGroupArnSuffix: string;
  readonly webAclName: string;
  readonly bucketName: string;
  /** The bottle store's replica in the DR region (S3 Replication Time Control metrics). Default: none, no replication alarms. */
  readonly replicaBucketName?: string;
  readonly tableName: string;
  /** Where the table's global replica and the store's replica live. */
  readonly replicaRegion: string;
  readonly cacheNodeIds: string[];
  /** Route 53's check of the primary ALB (environments with a standby), alarmed on in us-east-1. Default: none. */
  readonly endpointHealthCheckId?: string;
}
