package quorumkv.http;

/** How fresh a read must be. */
enum ReadConsistency {
  /** This node's replica: fastest, may be stale. */
  LOCAL,
  /** The leader's replica: one hop to the leader; sees every acknowledged write, and possibly in-doubt ones. */
  LEADER;

  static ReadConsistency parse(String s) {
    return switch (s) {
      case "local" -> LOCAL;
      case "leader" -> LEADER;
      default -> throw new InvalidRequest("consistency must be 'local' or 'leader', got '" + s + "'");
    };
  }
}
