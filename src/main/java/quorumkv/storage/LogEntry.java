package quorumkv.storage;

import quorumkv.CborSerializable;

/**
 * One write in the leader's log. {@code value == null} is a delete. {@code index} is gap-free and
 * assigned by the leader; {@code term} is the leader's term when it assigned the index.
 */
public record LogEntry(long index, long term, String key, String value) implements CborSerializable {

  public boolean isDelete() {
    return value == null;
  }

  /** Rough size on the wire, used to cap Replicate batches. */
  public long approximateBytes() {
    return 32L + key.length() + (value == null ? 0 : value.length());
  }
}
