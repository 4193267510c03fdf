package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonInclude;
import quorumkv.CborSerializable;

/**
 * One key of a full state transfer, a range page or a backup; {@code expiresAt} as in
 * {@link VersionedValue} (0: no TTL; left out when persisted, so older transfer events read back).
 */
public record KeyValue(String key, String value, long version,
    @JsonInclude(JsonInclude.Include.NON_DEFAULT) long expiresAt) implements CborSerializable {

  public KeyValue(String key, String value, long version) {
    this(key, value, version, 0);
  }

  /**
   * Rough size of the pair in a message or a stream chunk: its characters and 32 more, as
   * {@link LogEntry#approximateBytes()} counts an entry; what state-transfer and backup chunks are bounded by.
   */
  public long approximateChars() {
    return approximateChars(true);
  }

  /** {@link #approximateChars()}, of the key alone when {@code withValue} is false (a keys-only range page). */
  public long approximateChars(boolean withValue) {
    return 32L + key.length() + (withValue ? value.length() : 0);
  }

  /** Milliseconds left at {@code nowMillis} (never below 0); -1 when the key has no TTL. */
  public long ttlMsAt(long nowMillis) {
    return expiresAt == 0 ? -1 : Math.max(0, expiresAt - nowMillis);
  }
}
