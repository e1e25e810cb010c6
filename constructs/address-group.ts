import { Construct, IConstruct } from 'constructs';

const GROUP = Symbol.for('homebrew-bottles-sync.AddressGroup');

/**
 * A construct that only groups others (a tier, a set of alarms). The stack's
 * readable addresses leave its id out of its members' Terraform addresses
 * (`stacks/readable-addresses.ts`), so regrouping never moves state.
 */
export class AddressGroup extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    Object.defineProperty(this, GROUP, { value: true });
  }

  static isAddressGroup(x: IConstruct): boolean {
    return (x as unknown as Record<symbol, unknown>)[GROUP] === true;
  }
}
