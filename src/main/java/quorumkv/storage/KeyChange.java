package quorumkv.storage;

/** What applying a log entry did to one key: a put of {@code value}, or a delete ({@code value} null). */
public record KeyChange(String key, String value) {

  public boolean isDelete() {
    return value == null;
  }

  /** Rough size in memory and on disk, for the watch history's byte bound. */
  public long approximateBytes() {
    return 16L + key.length() + (value == null ? 0 : value.length());
  }
}
