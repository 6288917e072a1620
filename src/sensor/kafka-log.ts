/**
 * kafkajs's log lines as one plain line on stderr (`pcap-replay: kafka: ...`), instead of its JSON.
 * The metadata errors a producer sees while the broker auto-creates a topic ("does not host this
 * topic-partition", "no leader") are retried by kafkajs and are noise for a user: dropped.
 */
import kafkajs, { type logCreator } from 'kafkajs';

const { logLevel } = kafkajs;

const AUTO_CREATE_NOISE = /does not host this topic-partition|There is no leader for this topic-partition/;

export function kafkaLogLine(program: string): logCreator {
  return () =>
    ({ level, log }) => {
      if (level > logLevel.WARN) return;
      const error = typeof log.error === 'string' ? log.error : '';
      if (AUTO_CREATE_NOISE.test(error) || AUTO_CREATE_NOISE.test(log.message)) return;
      process.stderr.write(`${program}: kafka: ${log.message}${error ? `: ${error}` : ''}\n`);
    };
}
