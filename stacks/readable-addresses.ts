import { Node } from 'constructs';
import { TerraformElement, TerraformStack } from 'cdktf';
import { AddressGroup } from '../constructs/address-group';

export { AddressGroup };

/**
 * A stack whose Terraform addresses are the construct path in snake case
 * (`aws_dynamodb_table.state_table_table`) instead of cdktf's hashed ids.
 *
 * Readable, stable addresses make plans reviewable, let `terraform test`
 * assertions name resources directly, and keep state addresses unchanged
 * when unrelated constructs move. A collision is an error, never a silent
 * rename. Constructs that only group others (`AddressGroup`: tiers, alarm
 * groups) are left out of the address.
 */
export class ReadableAddressStack extends TerraformStack {
  private readonly allocated = new Map<string, string>();

  protected allocateLogicalId(element: TerraformElement | Node): string {
    const node = TerraformElement.isTerraformElement(element) ? element.node : element;
    const stackIndex = node.scopes.indexOf(this);
    const components = node.scopes
      .slice(stackIndex + 1)
      .filter((scope) => scope === node.scopes[node.scopes.length - 1] || !AddressGroup.isAddressGroup(scope))
      .map((scope) => scope.node.id);
    if (components.length === 0) return '';
    const id = components
      .join('_')
      .replace(/[^A-Za-z0-9_]/g, '_')
      .replace(/^([0-9])/, '_$1');
    const path = node.path;
    const previous = this.allocated.get(id);
    if (previous !== undefined && previous !== path) {
      throw new Error(`Terraform address collision: "${id}" is used by both ${previous} and ${path}`);
    }
    this.allocated.set(id, path);
    return id;
  }
}
