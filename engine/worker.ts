// piscina worker: runs one task per call, in its own thread.
import { runTask } from '../tasks/run.js';
import { TaskResult } from '../tasks/task.js';

export default async function work(task: unknown): Promise<TaskResult> {
  return runTask(task);
}
