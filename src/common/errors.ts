/**
 * A mistake the user can fix (bad config value, malformed file, missing package). The CLI prints
 * its message without a stack trace and exits with code 2; anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}
