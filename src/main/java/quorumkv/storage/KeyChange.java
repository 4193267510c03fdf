package quorumkv.storage;

import com.fasterxml.jackson.annotation.JsonIgnore;

/** What applying a log entry did to one key: a put of {@code value}, or a delete ({@code value} null). */
public record KeyChange(String key, String value) {

  @JsonIgnore
  public boolean isDelete() {
    return value == null;
  }

  /** Rough size in memory and on disk, for the watch history's byte bound. */
  @JsonIgnore
  public long approximateBytes() {
    return 16L + key.length() + (value == null ? 0 : value.length());
  }
}
