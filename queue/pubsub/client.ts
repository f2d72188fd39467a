// Pub/Sub plumbing: one client per process (PUBSUB_EMULATOR_HOST points it at the emulator), and the
// topic, subscription and dead-letter topic that a plan is published through, created when missing.
import { PubSub, Subscription, Topic } from '@google-cloud/pubsub';
import { InvalidInput } from '../../common/errors.js';

let client: PubSub | undefined;
let project: string | undefined;

/** Set at the edge (runtime/config.ts). An explicit project keeps the client from probing the GCE metadata server off GCP. */
export function configurePubsub(projectId: string | undefined): void {
  if (projectId !== project) client = undefined;
  project = projectId;
}

/** One client per process (it reads PUBSUB_EMULATOR_HOST itself, as every Google client does). */
export function pubsub(): PubSub {
  client ??= new PubSub(project ? { projectId: project } : {});
  return client;
}

export interface QueueNames {
  topic: string;
  subscription: string;
  /** Where tasks go after `maxAttempts` failed deliveries. */
  deadLetterTopic: string;
  maxAttempts: number;
  /** Seconds a worker has to ack before redelivery; the client extends it while a task runs. */
  ackDeadline?: number;
  /** Redelivery backoff after a nack, [minimum, maximum] seconds; default [10, 120]. */
  retryBackoff?: [number, number];
}

async function ensureTopic(name: string): Promise<Topic> {
  const topic = pubsub().topic(name);
  const [exists] = await topic.exists();
  if (!exists)
    await topic.create().catch((e) => {
      if (e.code !== 6) throw e;
    }); // 6: ALREADY_EXISTS (a race)
  return topic;
}

/** Creates what is missing; an existing subscription is left as it is. */
export async function ensureQueue(names: QueueNames): Promise<{ topic: Topic; subscription: Subscription }> {
  if (!(names.maxAttempts >= 5 && names.maxAttempts <= 100)) throw new InvalidInput(`max attempts ${names.maxAttempts}: Pub/Sub dead-lettering allows 5..100`);
  const [topic, deadLetter] = await Promise.all([ensureTopic(names.topic), ensureTopic(names.deadLetterTopic)]);
  const subscription = topic.subscription(names.subscription);
  const [exists] = await subscription.exists();
  if (!exists) {
    await topic
      .createSubscription(names.subscription, {
        ackDeadlineSeconds: names.ackDeadline ?? 60,
        deadLetterPolicy: { deadLetterTopic: deadLetter.name, maxDeliveryAttempts: names.maxAttempts },
        retryPolicy: { minimumBackoff: { seconds: names.retryBackoff?.[0] ?? 10 }, maximumBackoff: { seconds: names.retryBackoff?.[1] ?? 120 } },
      })
      .catch((e) => {
        if (e.code !== 6) throw e;
      });
  }
  // Dead letters are kept on a subscription of their own, so they can be read back.
  const deadSubscription = deadLetter.subscription(`${names.deadLetterTopic}-kept`);
  if (!(await deadSubscription.exists())[0])
    await deadLetter.createSubscription(`${names.deadLetterTopic}-kept`).catch((e) => {
      if (e.code !== 6) throw e;
    });
  return { topic, subscription };
}
