package quorumkv.jepsen;

import java.util.Objects;

/**
 * One client operation on one key, as a fault-injection run records it: who issued it, what it
 * asked for, when it was invoked and completed, and what the client learned.
 *
 * <p>A delete is a {@link Type#WRITE} of {@code null}: to a register "absent" is just a value. For
 * a write, {@code value} is the value written; for an {@link Outcome#OK} read it is the value read
 * ({@code null}: the key was absent); for any other read it is {@code null}. A {@link Type#CAS}
 * (compare-and-set: {@code PUT ?ifVersion=}) writes {@code value} only if the register holds
 * {@code expected} ({@code null}: absent); the client names the value it expects by the version a
 * read returned with it, and every written value is unique, so a version stands for one value.
 *
 * <p>Times are nanoseconds on one monotonic clock (see {@link History#now()}). An operation whose
 * client never learned the outcome has {@code completedAt == NEVER}.
 *
 * @param id the operation's handle, unique within its history
 * @param client the client (thread, connection) that issued it
 * @param error why it failed or is in doubt, for people reading the history; may be null
 */
public record Operation(
    long id, int client, String key, Type type, String value,
    long invokedAt, long completedAt, Outcome outcome, String error, String expected) {

  /** The completion time of an operation whose client never heard back. */
  public static final long NEVER = Long.MAX_VALUE;

  /** Read, write (or delete), compare-and-set. */
  public enum Type { READ, WRITE, CAS }

  /**
   * What the client knows about the operation's effect.
   * <ul>
   *   <li>{@code OK}: it took effect (a read returned {@code value}).
   *   <li>{@code FAIL}: it certainly did not take effect: a 400, or a 503 "not enough replicas
   *       reachable" that wrote nothing.
   *   <li>{@code INFO}: unknown, it may take effect at any later time or never: a 503 "quorum not
   *       reached" (the write is in doubt), a connection error, a client timeout, or no answer yet.
   * </ul>
   */
  public enum Outcome { OK, FAIL, INFO }

  /** An operation that is not a compare-and-set (nothing expected). */
  public Operation(long id, int client, String key, Type type, String value, long invokedAt, long completedAt,
      Outcome outcome, String error) {
    this(id, client, key, type, value, invokedAt, completedAt, outcome, error, null);
  }

  public Operation {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(outcome, "outcome");
    if (completedAt < invokedAt) {
      throw new IllegalArgumentException("operation " + id + " completed (" + completedAt
          + ") before it was invoked (" + invokedAt + ")");
    }
    if (type != Type.CAS && expected != null) {
      throw new IllegalArgumentException("operation " + id + " expects a value but is not a compare-and-set");
    }
    if (type == Type.READ && outcome != Outcome.OK && value != null) {
      throw new IllegalArgumentException("read " + id + " has a value but did not complete OK");
    }
  }

  Operation completed(long at, Outcome result, String valueRead, String why) {
    String v = type == Type.READ ? valueRead : value;
    return new Operation(id, client, key, type, v, invokedAt, at, result, why, expected);
  }

  /** E.g. {@code op 17 client 2 read k -> "v" [1.204 ms, 1.530 ms] OK}. */
  @Override
  public String toString() {
    String what = switch (type) {
      case READ -> "read " + key + (outcome == Outcome.OK ? " -> " + quoted(value) : "");
      case WRITE -> value == null ? "delete " + key : "write " + key + " = " + quoted(value);
      case CAS -> "cas " + key + " " + quoted(expected) + " -> " + quoted(value);
    };
    String end = completedAt == NEVER ? "never" : millis(completedAt);
    return "op " + id + " client " + client + " " + what + " [" + millis(invokedAt) + ", " + end + "] "
        + outcome + (error == null ? "" : " (" + error + ")");
  }

  static String quoted(String value) {
    return value == null ? "absent" : '"' + value + '"';
  }

  private static String millis(long nanos) {
    return String.format("%.3f ms", nanos / 1e6);
  }
}
