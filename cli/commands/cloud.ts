// Commands of the Pub/Sub path: publish, work, status.
import { Command, InvalidArgumentError, Option } from 'commander';
import { logEvent } from '../../common/log.js';
import { planSize } from '../../tasks/plan/planners.js';
import { configure, loadPlan } from './run.js';
import { configureStorageFlags, integer, number, runtimeOptions, storageFlags } from '../options.js';
import { ProgressStore } from '../../queue/progress/store.js';

/**
 * The Pub/Sub client and its stack (google-gax, grpc-js, protobufjs: ~250 modules, most of a
 * command's start-up) load only for the commands that talk to Pub/Sub.
 */
async function pubsub(project: string | undefined) {
  const [{ publishPlan }, { configurePubsub }, { work }] = await Promise.all([
    import('../../queue/pubsub/publish.js'),
    import('../../queue/pubsub/client.js'),
    import('../../queue/pubsub/subscriber.js'),
  ]);
  configurePubsub(project);
  return { publishPlan, work };
}

function backoff(text: string): [number, number] {
  const v = text.split(',').map(Number);
  if (v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 600) || v[0] > v[1])
    throw new InvalidArgumentError('must be MIN,MAX seconds within 0..600');
  return v as [number, number];
}

export function addCloudCommands(program: Command): void {
  storageFlags(
    program
      .command('publish')
      .description('create the topic, subscription and dead-letter topic if missing, then publish stage by stage, each once the one before is done')
      .argument('<plan>', 'plan file'),
  )
    .addOption(new Option('--topic <name>', 'Pub/Sub topic').env('DIGEST_TOPIC').makeOptionMandatory())
    .addOption(new Option('--subscription <name>', 'subscription the workers pull from').env('DIGEST_SUBSCRIPTION').makeOptionMandatory())
    .addOption(new Option('--progress <url>', 'where workers mark tasks done').env('DIGEST_PROGRESS').makeOptionMandatory())
    .option('--dead-letter <topic>', 'dead-letter topic (default: <topic>-dead)')
    .addOption(new Option('--attempts <n>', 'deliveries before dead-lettering').argParser(integer(5, 100)).default(5))
    .addOption(new Option('--ack-deadline <seconds>', 'subscription ack deadline').argParser(integer(10, 600)))
    .addOption(new Option('--retry-backoff <min,max>', 'redelivery backoff, seconds').argParser(backoff))
    .addOption(
      new Option('--max-in-flight <n>', 'publishes not yet confirmed, at most; also how often the published count is recorded')
        .argParser(integer(1, 100_000))
        .default(1000),
    )
    .addOption(new Option('--poll <seconds>', "how often to read the stage's progress").argParser(number(0.1, 3600)).default(2))
    .addOption(
      new Option(
        '--tasks-per-message <n>',
        'tasks a message names (a range the workers make from the plan); default: 1, or as many as keep a stage to 10^6 messages',
      ).argParser(integer(1, 1_000_000)),
    )
    .action(async (file: string, o) => {
      configureStorageFlags(o, 'json');
      const { publishPlan } = await pubsub(o.project);
      const plan = await loadPlan(file);
      await publishPlan(plan, {
        topic: o.topic,
        subscription: o.subscription,
        deadLetterTopic: o.deadLetter ?? `${o.topic}-dead`,
        maxAttempts: o.attempts,
        ackDeadline: o.ackDeadline,
        retryBackoff: o.retryBackoff,
        progressUrl: o.progress,
        maxInFlight: o.maxInFlight,
        pollMs: o.poll * 1000,
        tasksPerMessage: o.tasksPerMessage,
      });
      logEvent('INFO', 'all tasks done', { tasks: planSize(plan) });
    });

  runtimeOptions(program.command('work').description('pull and run tasks until SIGTERM (or idle); logs are JSON lines'))
    .addOption(new Option('--subscription <name>', 'subscription to pull from').env('DIGEST_SUBSCRIPTION').makeOptionMandatory())
    .addOption(
      new Option('--prefetch <n>', 'messages held beyond the running ones, inputs read ahead (default: threads)')
        .env('DIGEST_PREFETCH')
        .argParser(integer(0, 1024)),
    )
    .addOption(
      new Option('--prefetch-mib <mib>', 'bytes of inputs read ahead for waiting messages, at most')
        .env('DIGEST_PREFETCH_MIB')
        .argParser(integer(0, 1 << 20))
        .default(1024),
    )
    .addOption(new Option('--exit-when-idle <seconds>', 'exit once nothing arrived for this long').env('DIGEST_EXIT_WHEN_IDLE').argParser(integer(1, 86_400)))
    .addOption(new Option('--health-port <port>', 'serve /healthz here (0: any free port)').env('DIGEST_HEALTH_PORT').argParser(integer(0, 65535)))
    .addOption(new Option('--ack-deadline <seconds>', "each lease extension; how soon a crashed worker's tasks come back").argParser(integer(10, 600)))
    .action(async (o) => {
      const config = configure(o, 'json');
      const { work } = await pubsub(o.project);
      const summary = await work({
        subscription: o.subscription,
        config,
        prefetch: o.prefetch ?? config.threads,
        prefetchBytes: o.prefetchMib * 2 ** 20,
        exitWhenIdleSeconds: o.exitWhenIdle,
        healthPort: o.healthPort,
        maxAckDeadlineSeconds: o.ackDeadline,
      });
      process.exitCode = summary.failed > 0 && summary.done === 0 ? 1 : 0;
    });

  storageFlags(program.command('status').description('done, dead and backlog per stage of a published plan'))
    .addOption(new Option('--progress <url>', "the plan's progress store").env('DIGEST_PROGRESS').makeOptionMandatory())
    .option('--json', 'one JSON array')
    .action(async (o) => {
      configureStorageFlags(o);
      const stages = await new ProgressStore(o.progress).status();
      if (o.json) {
        console.log(JSON.stringify(stages));
        return;
      }
      for (const [i, s] of stages.entries()) {
        const eta = s.etaSeconds !== undefined && s.done < s.tasks ? `, ${s.rate!.toFixed(1)} tasks/s, about ${formatSeconds(s.etaSeconds)} left` : '';
        console.log(`stage ${i + 1} (${s.name}): ${s.tasks} tasks, ${s.published} published, ${s.done} done, ${s.dead} dead, ${s.backlog} backlog${eta}`);
      }
      const total = stages.reduce((n, s) => n + s.tasks, 0),
        done = stages.reduce((n, s) => n + s.done, 0);
      console.log(`${done}/${total} done`);
    });
}

function formatSeconds(s: number): string {
  return s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}
