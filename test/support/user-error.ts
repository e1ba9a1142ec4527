/** The UserError `promise` rejects with; anything else (or no rejection) fails the test. */
import { UserError } from '../../source/core/errors.js';

export async function userErrorOf(promise: Promise<unknown>): Promise<UserError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error('expected a UserError');
}
