package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonInclude;
import quorumkv.CborSerializable;

/**
 * A key's current value, the log index of the write that set it, and when it expires: the
 * leader's wall-clock time in epoch milliseconds, stamped into the entry that set it; 0 when the
 * key has no TTL (left out when persisted, so snapshots from before TTLs read as permanent keys).
 */
public record VersionedValue(String value, long version,
    @JsonInclude(JsonInclude.Include.NON_DEFAULT) long expiresAt) implements CborSerializable {

  public VersionedValue(String value, long version) {
    this(value, version, 0);
  }

  /** Milliseconds left at {@code nowMillis} (never below 0); -1 when the key has no TTL. */
  public long ttlMsAt(long nowMillis) {
    return expiresAt == 0 ? -1 : Math.max(0, expiresAt - nowMillis);
  }
}
