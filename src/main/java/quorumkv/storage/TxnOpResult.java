package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonInclude;
import quorumkv.CborSerializable;

/**
 * What one op of a transaction did, as the entry was applied: a put's {@code version} (the
 * entry's index); whether a delete found the key; a get's value and version ({@code found} false
 * and {@code value} null when the key was absent) and its {@code expiresAt} (0: no TTL). A get sees
 * the ops before it in the same branch.
 */
public record TxnOpResult(WriteCommand.OpType op, String key, String value, long version, boolean found,
    @JsonInclude(JsonInclude.Include.NON_DEFAULT) long expiresAt) implements CborSerializable {

  public TxnOpResult(WriteCommand.OpType op, String key, String value, long version, boolean found) {
    this(op, key, value, version, found, 0);
  }
}
