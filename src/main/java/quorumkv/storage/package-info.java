/**
 * A node's durable state. {@link quorumkv.storage.ReplicaState} is immutable (a persistent sorted
 * map in Unicode code point order, {@link quorumkv.storage.KeyOrder}), so snapshots are serialized
 * safely in the background, the leader can stream the state to a lagging follower without copying
 * it, and range pages and backups read one whole state without a lock. It keeps an order-independent digest of the key/value
 * map in O(1) per write, so equal replicas show equal digests in {@code /status}.
 *
 * <p>Storage is Akka Persistence on akka-persistence-jdbc over one SQLite file per node
 * ({@link quorumkv.storage.SqliteStore} creates the schema, which the plugin does not ship for
 * SQLite): WAL mode, one connection, {@code synchronous=FULL} by default, a snapshot every
 * {@code snapshot-every} journal events with older events deleted, so recovery reads one snapshot
 * and at most a few thousand events.
 *
 * <p>Journal events and snapshots are Jackson CBOR with the class name as manifest, so the
 * persisted classes ({@link quorumkv.storage.ReplicaState}, {@link quorumkv.storage.LogEntry},
 * {@link quorumkv.storage.KeyValue}, {@link quorumkv.storage.VersionedValue}, and the events of
 * {@code quorumkv.replication.FollowerActor}) keep their names and packages: a renamed or moved
 * one would leave existing journals unreadable.
 *
 * <p>A log entry may carry a {@link quorumkv.storage.WriteCommand} (compare-and-set, prefix delete,
 * transaction; its subtypes are persisted by the type names in its {@code @JsonSubTypes}), which
 * every replica evaluates when it applies the entry. The field is left out of plain entries, so
 * journals written before it existed read back unchanged (plain puts and deletes) and plain entries
 * are written exactly as before. The outcomes of applied commands are kept in memory only, never in
 * snapshots.
 *
 * <p>TTL keys: a put may carry an {@code expiresAt} (the leader's clock, stamped when it logged the
 * entry; commands {@code put} and {@code expire} were added), which each replica stores in the
 * key's {@link quorumkv.storage.VersionedValue} and in an expiry order beside the key map (derived,
 * rebuilt when a snapshot is read). The field is left out when 0, so snapshots, transfer chunks and
 * command entries written before TTLs existed read back as permanent keys, and keys and commands
 * without a TTL are written exactly as before.
 */
package quorumkv.storage;
