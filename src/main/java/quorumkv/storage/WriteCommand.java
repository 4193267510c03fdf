package quorumkv.storage;

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
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME)
@JsonSubTypes({
    @JsonSubTypes.Type(value = WriteCommand.IfVersion.class, name = "if-version"),
    @JsonSubTypes.Type(value = WriteCommand.DeletePrefix.class, name = "delete-prefix"),
    @JsonSubTypes.Type(value = WriteCommand.Txn.class, name = "txn")})
public sealed interface WriteCommand extends CborSerializable {

  /** Rough size on the wire, used to cap Replicate batches. */
  long approximateBytes();

  /**
   * Compare-and-set: puts {@code value} ({@code null}: deletes) if the key's version is
   * {@code ifVersion} (0: the key is absent).
   */
  record IfVersion(String key, String value, long ifVersion) implements WriteCommand {
    @Override
    public long approximateBytes() {
      return 16L + key.length() + (value == null ? 0 : value.length());
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
        return current.map(VersionedValue::version).orElse(0L) == version;
      }
      if (value != null) {
        return current.map(v -> v.value().equals(value)).orElse(false);
      }
      return current.isPresent() == exists;
    }
  }

  enum OpType { PUT, DELETE, GET }

  /** One op of a transaction's branch; {@code value} only for a put. */
  record TxnOp(OpType op, String key, String value) implements CborSerializable {
    public static TxnOp put(String key, String value) {
      return new TxnOp(OpType.PUT, key, value);
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
