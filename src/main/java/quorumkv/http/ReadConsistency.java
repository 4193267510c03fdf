package quorumkv.http;

/** How fresh a read must be. */
enum ReadConsistency {
  /** This node's replica: fastest, may be stale. */
  LOCAL,
  /** The leader's replica at its commit index: one hop to the leader; stale only if it was just deposed. */
  LEADER,
  /**
   * The leader's replica after W followers confirmed no newer term exists: one hop plus one round
   * trip to the followers; never returns a value that can be lost, sees every write acknowledged
   * before the read began.
   */
  LINEARIZABLE;

  static ReadConsistency parse(String s) {
    return switch (s) {
      case "local" -> LOCAL;
      case "leader" -> LEADER;
      case "linearizable" -> LINEARIZABLE;
      default -> throw new InvalidRequest(
          "consistency must be 'local', 'leader' or 'linearizable', got '" + s + "'");
    };
  }
}
