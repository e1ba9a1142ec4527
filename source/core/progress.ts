/**
 * Where the runner records progress after every step. The profile store implements it (progress
 * and lastRun live in the profile, for display and resume); tests use an in-memory one.
 */
import type { LastRun, StepProgress } from '../profile/schema.js';

export interface ProgressSink {
  runStarted(run: LastRun): void | Promise<void>;
  stepRecorded(stepId: string, progress: StepProgress): void | Promise<void>;
  runEnded(run: LastRun): void | Promise<void>;
}
