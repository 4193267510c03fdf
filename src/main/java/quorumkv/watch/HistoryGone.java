package quorumkv.watch;

/** A watch asked for changes after {@code since}, older than the history this node keeps (410). */
public final class HistoryGone extends Exception {
  private final long since;
  private final long oldestVersion;

  public HistoryGone(long since, long oldestVersion) {
    super(null, null, false, false);
    this.since = since;
    this.oldestVersion = oldestVersion;
  }

  public long since() {
    return since;
  }

  /** The smallest {@code since} this node can still serve. */
  public long oldestVersion() {
    return oldestVersion;
  }
}
