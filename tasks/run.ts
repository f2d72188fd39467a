// Runs one task of any kind.
import { runDownsample } from './downsample.js';
import { runIngest } from './ingest.js';
import { parseTask, TaskResult } from './task.js';

export async function runTask(input: unknown): Promise<TaskResult> {
  const task = parseTask(input);
  switch (task.kind) {
    case 'ingest': return runIngest(task);
    case 'downsample': return runDownsample(task);
  }
}
