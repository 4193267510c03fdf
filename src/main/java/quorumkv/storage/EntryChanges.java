package quorumkv.storage;

import java.util.List;

/**
 * The keys that the log entry at {@code version} changed when it was applied, in the order it
 * changed them: one for a put or delete, several for a transaction or prefix delete, none for a
 * failed condition or a delete of an absent key (such entries yield no EntryChanges at all).
 */
public record EntryChanges(long version, List<KeyChange> changes) {

  public long approximateBytes() {
    long bytes = 32;
    for (KeyChange c : changes) {
      bytes += c.approximateBytes();
    }
    return bytes;
  }
}
