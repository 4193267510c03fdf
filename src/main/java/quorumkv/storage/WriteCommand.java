package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;
import java.util.Optional;
import quorumkv.CborSerializable;

/**
 * A log entry's payload beyond a plain put or delete: its effect depends on the state it is
 * applied to, so every replica evaluates it when it applies the entry, in log order, and reaches
 * the same outcome ({@link EntryOutcome}). Part of the journal: the type names below are
 * persisted and must keep their spelling.
 *
 * <p>TTLs: a client's put carries {@code ttlMs} (relative); the leader stamps {@code expiresAt}
 * (its wall clock, epoch ms) when it logs the entry ({@link #stampedAt}), and replicas store only
 * that, so every replica holds the same expiry. Both fields are left out when 0, so commands
 * journaled before TTLs existed read back (and new ones without a TTL are written) as before.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME)
@JsonSubTypes({
    @JsonSubTypes.Type(value = WriteCommand.IfVersion.class, name = "if-version"),
    @JsonSubTypes.Type(value = WriteCommand.DeletePrefix.class, name = "delete-prefix"),
    @JsonSubTypes.Type(value = WriteCommand.Txn.class, name = "txn"),
    @JsonSubTypes.Type(value = WriteCommand.Put.class, name = "put"),
    @JsonSubTypes.Type(value = WriteCommand.Expire.class, name = "expire"),
    @JsonSubTypes.Type(value = WriteCommand.TermStarted.class, name = "term-started")})
public sealed interface WriteCommand extends CborSerializable {

  /** Rough size on the wire, used to cap Replicate batches. */
  long approximateBytes();

  /** The command as the leader logs it at {@code nowMillis}: every {@code ttlMs} turned into an {@code expiresAt}. */
  default WriteCommand stampedAt(long nowMillis) {
    return this;
  }

  private static long expiry(long ttlMs, long nowMillis) {
    return ttlMs > 0 ? nowMillis + ttlMs : 0;
  }

  /** A plain put with a TTL (a put without one is a plain entry). */
  record Put(String key, String value, long ttlMs, @JsonInclude(JsonInclude.Include.NON_DEFAULT) long expiresAt)
      implements WriteCommand {
    @Override
    public long approximateBytes() {
      return 24L + key.length() + value.length();
    }

    @Override
    public Put stampedAt(long nowMillis) {
      return new Put(key, value, ttlMs, expiry(ttlMs, nowMillis));
    }
  }

  /**
   * Deletes each key that still has the version that set its TTL (a newer write wins): logged by
   * the leader for keys whose expiry time has passed, many keys per entry.
   */
  record Expire(List<ExpiredKey> keys) implements WriteCommand {
    @Override
    public long approximateBytes() {
      long bytes = 8;
      for (ExpiredKey k : keys) {
        bytes += 12L + k.key().length();
      }
      return bytes;
    }
  }

  /**
   * Changes nothing: a new leader logs it first when it adopted entries of earlier leaders that are
   * not known to be committed, which commit only together with an entry of its own term (Raft
   * §5.4.2). It takes a log index, so versions skip one after such an election.
   */
  record TermStarted() implements WriteCommand {
    @Override
    public long approximateBytes() {
      return 8;
    }
  }

  /** A key due to expire, and the version whose TTL has passed. */
  record ExpiredKey(String key, long version) implements CborSerializable {}

  /**
   * Compare-and-set: puts {@code value} ({@code null}: deletes) if the key's version is
   * {@code ifVersion} (0: the key is absent).
   */
  record IfVersion(String key, String value, long ifVersion,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long ttlMs,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long expiresAt) implements WriteCommand {
    public IfVersion(String key, String value, long ifVersion) {
      this(key, value, ifVersion, 0, 0);
    }

    @Override
    public long approximateBytes() {
      return 16L + key.length() + (value == null ? 0 : value.length());
    }

    @Override
    public IfVersion stampedAt(long nowMillis) {
      return ttlMs == 0 ? this : new IfVersion(key, value, ifVersion, ttlMs, expiry(ttlMs, nowMillis));
    }
  }

  /** Deletes every key that starts with {@code prefix} (never empty). */
  record DeletePrefix(String prefix) implements WriteCommand {
    @Override
    public long approximateBytes() {
      return 8L + prefix.length();
    }
  }

  /** If every compare holds, the {@code success} ops, else the {@code failure} ops, all in this one entry. */
  record Txn(List<Compare> compare, List<TxnOp> success, List<TxnOp> failure) implements WriteCommand {
    @Override
    public long approximateBytes() {
      long bytes = 16;
      for (Compare c : compare) {
        bytes += 16L + c.key().length() + (c.value() == null ? 0 : c.value().length());
      }
      for (TxnOp o : success) {
        bytes += o.approximateBytes();
      }
      for (TxnOp o : failure) {
        bytes += o.approximateBytes();
      }
      return bytes;
    }

    @Override
    public Txn stampedAt(long nowMillis) {
      if (success.stream().allMatch(o -> o.ttlMs() == 0) && failure.stream().allMatch(o -> o.ttlMs() == 0)) {
        return this;
      }
      return new Txn(compare, stamped(success, nowMillis), stamped(failure, nowMillis));
    }

    private static List<TxnOp> stamped(List<TxnOp> ops, long nowMillis) {
      return ops.stream().map(o -> o.ttlMs() == 0 ? o
          : new TxnOp(o.op(), o.key(), o.value(), o.ttlMs(), expiry(o.ttlMs(), nowMillis))).toList();
    }
  }

  /**
   * A transaction's condition on one key; exactly one of {@code version} (0: absent),
   * {@code value} (the key exists with this value) and {@code exists} is set.
   */
  record Compare(String key, Long version, String value, Boolean exists) implements CborSerializable {
    public static Compare version(String key, long version) {
      return new Compare(key, version, null, null);
    }

    public static Compare value(String key, String value) {
      return new Compare(key, null, value, null);
    }

    public static Compare exists(String key, boolean exists) {
      return new Compare(key, null, null, exists);
    }

    /** Whether the condition holds for the key's current value (empty: absent). */
    public boolean holds(Optional<VersionedValue> current) {
      if (version != null) {
        // Both sides unboxed: Long == Long compares identity, true only for the values Java caches
        // (-128..127), so every version compare from index 128 on failed.
        return current.map(VersionedValue::version).orElse(0L).longValue() == version.longValue();
      }
      if (value != null) {
        return current.map(v -> v.value().equals(value)).orElse(false);
      }
      return current.isPresent() == exists;
    }
  }

  enum OpType { PUT, DELETE, GET }

  /** One op of a transaction's branch; {@code value}, {@code ttlMs} and {@code expiresAt} only for a put. */
  record TxnOp(OpType op, String key, String value,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long ttlMs,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) long expiresAt) implements CborSerializable {
    public TxnOp(OpType op, String key, String value) {
      this(op, key, value, 0, 0);
    }

    public static TxnOp put(String key, String value) {
      return new TxnOp(OpType.PUT, key, value);
    }

    public static TxnOp put(String key, String value, long ttlMs) {
      return new TxnOp(OpType.PUT, key, value, ttlMs, 0);
    }

    public static TxnOp delete(String key) {
      return new TxnOp(OpType.DELETE, key, null);
    }

    public static TxnOp get(String key) {
      return new TxnOp(OpType.GET, key, null);
    }

    long approximateBytes() {
      return 8L + key.length() + (value == null ? 0 : value.length());
    }
  }
}
