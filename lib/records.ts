/**
 * The fields of a log record that more than one part of the pipeline relies on: Fluent Bit writes them,
 * Fluentd routes and identifies records by them, and the index template maps them. One definition, so that
 * renaming a field here renames it everywhere.
 */
export const RECORD_FIELDS = {
  /** The cluster a record comes from (set by Fluent Bit; Fluentd routes on it). */
  cluster: "cluster",
  /** The document id Fluentd derives from the record's origin. */
  id: "efk_id",
  /** The line as the container wrote it (kept unless it was JSON and got merged). */
  log: "log",
  /** An application's JSON line, parsed (Fluent Bit's kubernetes filter, `Merge_Log_Key`). */
  logProcessed: "log_processed",
  /** The path of the file the line was read from, as Fluent Bit found it (`Path_Key`). */
  file: "log_file",
  /** Where in that file the line starts, in bytes (`Offset_Key`). */
  offset: "log_offset",
  /** The runtime's timestamp of the line, with nanoseconds, as written in the file (CRI and docker). */
  time: "time",
  /** stdout or stderr. */
  stream: "stream",
} as const;

/** Records whose `cluster` is not a registered cluster go to this data stream instead of making new ones. */
export const UNREGISTERED_CLUSTER = "unregistered";

/**
 * What a record's id is computed from: where it was read (cluster, file, offset) and the line itself (the
 * runtime's nanosecond timestamp, the stream and the raw content). The same line read twice, after a
 * resend or a re-read of its file, gets the same id; two lines of one file differ in offset or timestamp.
 * Left out on purpose: Kubernetes metadata, which is looked up again on a re-read and can change (a
 * deleted pod has none), and the merged JSON of a JSON line, whose text form is Ruby's `Hash#to_s` and
 * changes with Fluentd's Ruby version (its raw line is not kept, its offset and timestamp identify it).
 */
export const ID_SEED_FIELDS = [
  RECORD_FIELDS.cluster,
  RECORD_FIELDS.file,
  RECORD_FIELDS.offset,
  RECORD_FIELDS.time,
  RECORD_FIELDS.stream,
  RECORD_FIELDS.log,
] as const;
