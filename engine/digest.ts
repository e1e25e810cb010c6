import { createHash } from 'crypto';

/** The sha256 of a buffer, in lowercase hex: how the store names a blob and how Homebrew's API names a file. */
export const sha256Hex = (body: Buffer): string => createHash('sha256').update(body).digest('hex');
