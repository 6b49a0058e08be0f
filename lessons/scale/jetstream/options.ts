/**
 * `--sink file|jetstream` and the JetStream flags, for any LSP/1 receiver that stores through
 * lessons/day09/ingest.ts (issue 11). `openJetStreamSink(args, log)` returns the sink, or undefined for
 * `--sink file` (the default: the records files, as every day before).
 */
import { opt } from '../../../shared/cli.ts';
import type { Log } from '../../../shared/log.ts';
import type { DurableStore } from '../../day09/ingest.ts';
import { JetStreamSink, type JetStreamTopology } from './sink.ts';

/** The JetStream sink is where a day 09 receiver's records become durable (ACK = PubAck). */
export type JetStreamStore = JetStreamSink & DurableStore;

export function jetstreamSinkOptions() {
  return {
    sink: opt.choice(
      '--sink <kind>',
      'where accepted records go: file (the records files) | jetstream (a JetStream stream; ACK = PubAck)',
      ['file', 'jetstream'] as const,
      'file',
    ),
    nats: opt.list(
      '--nats <urls>',
      'with --sink jetstream: the NATS servers, comma-separated (every node of the cluster)',
      ['nats://127.0.0.1:4222'],
    ),
    jsStream: opt.string('--js-stream <name>', 'JetStream stream name (created when missing)', 'LSP'),
    subjectPrefix: opt.string(
      '--subject-prefix <p>',
      'records of LSP/1 stream N go on subject <p>.N; the stream takes <p>.>',
      'lsp.logs',
    ),
    replicas: opt.int('--replicas <n>', 'replicas of the JetStream stream when this program creates it', 1, {
      min: 1,
      max: 5,
    }),
    duplicateWindowMs: opt.int(
      '--duplicate-window-ms <n>',
      'JetStream duplicate window (msgID dedup) when this program creates the stream',
      120_000,
      { min: 100 },
    ),
    publishTimeoutMs: opt.int(
      '--publish-timeout-ms <n>',
      'a publish without a PubAck within this long has failed',
      5000,
      { min: 10 },
    ),
  };
}

export interface JetStreamSinkArgs {
  sink: 'file' | 'jetstream';
  nats: string[];
  jsStream: string;
  subjectPrefix: string;
  replicas: number;
  duplicateWindowMs: number;
  publishTimeoutMs: number;
}

/** Validation for the flags above: a subject prefix NATS accepts. */
export function validateJetStreamArgs(v: JetStreamSinkArgs): string | undefined {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(v.subjectPrefix))
    return `--subject-prefix '${v.subjectPrefix}' is not a NATS subject (tokens of letters, digits, _ and -, separated by dots)`;
  if (!/^[A-Za-z0-9_-]+$/.test(v.jsStream))
    return `--js-stream '${v.jsStream}' is not a stream name (letters, digits, _ and -)`;
  if (v.nats.length === 0) return '--nats needs at least one URL';
  return undefined;
}

export function topologyOf(v: JetStreamSinkArgs): JetStreamTopology {
  return {
    servers: v.nats,
    stream: v.jsStream,
    subjectPrefix: v.subjectPrefix,
    replicas: v.replicas,
    duplicateWindowMs: v.duplicateWindowMs,
  };
}

/** The sink, or undefined for `--sink file`; it is a day 09 DurableStore (AckedIngestOptions.store). */
export async function openJetStreamSink(
  v: JetStreamSinkArgs,
  log: Log,
  name: string,
): Promise<JetStreamStore | undefined> {
  if (v.sink !== 'jetstream') return undefined;
  return JetStreamSink.open({ ...topologyOf(v), log, name, publishTimeoutMs: v.publishTimeoutMs });
}
