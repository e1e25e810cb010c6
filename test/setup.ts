import { Testing } from 'cdktf';
// Type declarations for the matchers below (toHaveResource, toHaveResourceWithProperties, …).
import 'cdktf/lib/testing/adapters/jest';

// Adds cdktf's matchers to expect().
Testing.setupJest();
